# Shared helpers of paas's builtin buildpacks. Extract copies this file into
# every buildpack as lib/common.sh; bin/compile sources it.

# topic prints a Heroku-style step line.
topic() { echo "-----> $*"; }

# info prints a detail line, indented under the current step.
info() { echo "       $*"; }

# indent indents every line of its input as a detail line.
indent() { sed 's/^/       /'; }

# fail prints an error the way Heroku buildpacks do and stops the build.
fail() {
	echo " !     $*" >&2
	exit 1
}

# run runs a command with its output indented and returns its exit status
# (POSIX sh has no pipefail, so the status travels through a file).
run() {
	_status=$(mktemp)
	{
		"$@" 2>&1
		echo $? >"$_status"
	} | indent
	_rc=$(cat "$_status")
	rm -f "$_status"
	return "$_rc"
}

# config NAME [DEFAULT] prints the config var NAME from ENV_DIR ($env), or
# DEFAULT when the app does not set it.
config() {
	if [ -f "$env/$1" ]; then
		cat "$env/$1"
	else
		printf '%s' "${2-}"
	fi
}

# export_config NAME... exports the config vars that the app sets, leaving
# the others as the stack has them.
export_config() {
	for _name in "$@"; do
		if [ -f "$env/$_name" ]; then
			eval "$_name=\$(cat \"\$env/\$_name\")"
			export "$_name"
		fi
	done
}

# need COMMAND MESSAGE fails with MESSAGE when COMMAND is not on the stack.
need() {
	command -v "$1" >/dev/null 2>&1 || fail "$2"
}

# profile NAME writes stdin to .profile.d/NAME.sh, sourced at every start.
profile() {
	mkdir -p "$build/.profile.d"
	cat >"$build/.profile.d/$1.sh"
}
