// Package detect decides which buildpacks a build uses, following the
// Heroku/Dokku order of precedence: --buildpack flags, then BUILDPACK_URL,
// then the app's .buildpacks file, then the platform's default buildpacks
// whose bin/detect the caller runs in turn.
//
// It also reads the environment files (.env, --env-file) and --env flags
// that feed BUILDPACK_URL and the build's config vars. Running bin/detect is
// not done here: this package only chooses references and reads files.
package detect
