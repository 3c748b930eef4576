// Package detect decides which buildpacks a build uses, following the
// Heroku/Dokku order of precedence: --buildpack flags, then BUILDPACK_URL,
// then the app's .buildpacks file, then the platform's default buildpacks
// whose bin/detect the caller runs in turn.
//
// Running bin/detect is not done here: this package only chooses
// references and reads the app's files that name buildpacks. The
// environment (.env, --env-file, --env) that feeds BUILDPACK_URL is read by
// package envfile.
package detect
