// Package lifecycle runs the phases of a Heroku classic buildpack build —
// detect, compile, release — against a working copy of an app inside a
// sandbox whose root is a stack, and assembles the result into an image.
//
// Build produces a built app (a directory plus its process types and config
// vars); Export turns that into a v1.Image on top of the stack. Neither
// touches the store: the caller decides where the image goes.
package lifecycle
