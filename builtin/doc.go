// Package builtin holds paas's builtin buildpacks: classic (Heroku-style)
// buildpacks for Go, Node.js, Python, static sites and Procfile-only apps,
// written as POSIX shell scripts and embedded in the paas binary. They use
// the toolchains the stack provides (nothing is downloaded but the app's own
// dependencies, and the Go release a go.mod asks for when the stack's Go is
// older), read their settings from ENV_DIR (config vars) and keep their
// caches in CACHE_DIR. Without a Procfile, each one's bin/release gives a
// default web process. A language version the app asks for that the stack
// lacks (engines.node, .python-version, runtime.txt, .tool-versions) gives a
// warning, or with the config var PAAS_STRICT_VERSIONS=1 fails the compile.
//
// Extract writes them to disk, where paas runs them like any local
// buildpack directory; they are the default detection list, in this order,
// when nothing names buildpacks:
//
//   - go (go.mod): the Go that go.mod's go and toolchain lines ask for (the
//     stack's, or a release downloaded through GOPROXY as GOTOOLCHAIN=auto
//     does); the modules in a step of their own, or from vendor/; go build
//     -trimpath of every main package into /app/bin/NAME (the import path's
//     last element); web is the only binary, or the module root's. Config
//     vars: CGO_ENABLED (default 0), GOTOOLCHAIN (default auto), GOPROXY,
//     GOFLAGS, GOPRIVATE, GONOSUMDB, GONOPROXY, GOSUMDB, GOINSECURE. GOCACHE
//     and GOMODCACHE (with downloaded Go releases) live in CACHE_DIR, so
//     unchanged code is neither downloaded nor compiled again.
//   - nodejs (package.json): npm ci (npm install without a lock file), the
//     build script, npm prune --omit=dev; web is the start script's own
//     command (run without npm), else node on
//     "main" or server.js. NPM_CONFIG_* / npm_config_* config vars reach npm
//     (NPM_CONFIG_REGISTRY, NPM_CONFIG_CA, ...).
//   - python (requirements.txt, pyproject.toml, app.py, main.py): a
//     virtualenv in /app/.venv and pip install -r requirements.txt (or of
//     the project); web is python app.py or main.py. PIP_* config vars reach
//     pip (PIP_INDEX_URL, ...).
//   - static (index.html or public/): compiles paas-static, a standard
//     library file server, into /app/bin; its document root is public/ when
//     present, else the app. An optional static.json sets "root" (document
//     root relative to the app), "clean_urls" (/about serves about.html)
//     and "headers" (path.Match pattern → header → value).
//   - procfile (Procfile): compiles nothing; the Procfile gives processes.
//
// The go and static buildpacks need golang-go on the stack, nodejs needs
// nodejs and npm, python needs python3 and python3-venv; without them the
// compile fails saying so.
package builtin
