# Shared helpers of paas's builtin buildpacks. Extract copies this file into
# every buildpack as lib/common.sh; bin/compile sources it.

# Every line printed through these helpers has the userinfo (user:token@)
# of its URLs removed: GOPROXY, PIP_INDEX_URL or a registry URL may carry
# a credential, and build logs are kept and shared.
_redact='s|([A-Za-z][A-Za-z0-9+.-]*://)[^/[:space:]?#]*@|\1|g'

# redact prints its arguments with the userinfo of URLs removed.
redact() { printf '%s\n' "$*" | sed -E "$_redact"; }

# topic prints a Heroku-style step line.
topic() { redact "-----> $*"; }

# info prints a detail line, indented under the current step.
info() { redact "       $*"; }

# indent indents every line of its input as a detail line.
indent() { sed -E -e "$_redact" -e 's/^/       /'; }

# fail prints an error the way Heroku buildpacks do and stops the build.
fail() {
	redact " !     $*" >&2
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

# warn prints a warning the way Heroku buildpacks do; the build goes on.
warn() {
	echo " !     $*" >&2
}

# strict_versions succeeds when the config var PAAS_STRICT_VERSIONS asks
# that a language version the stack cannot provide fails the build.
strict_versions() {
	case $(config PAAS_STRICT_VERSIONS) in
	1 | true | yes) return 0 ;;
	esac
	return 1
}

# version_unavailable LANGUAGE ASKED WHERE HAVE HOW reports that the app asks
# (in WHERE) for LANGUAGE version ASKED while the stack has HAVE; HOW says how
# to get it. A warning, or an error that stops the build under
# PAAS_STRICT_VERSIONS. $have_phrase, when set, replaces "this stack has"
# (a buildpack that downloads a toolchain says "this build uses").
version_unavailable() {
	if strict_versions; then
		warn "Error: $3 asks for $1 $2, but ${have_phrase:-this stack has} $1 $4."
		warn "To get $1 $2, $5."
		fail "The build stops because the config var PAAS_STRICT_VERSIONS is set; unset it to build with $1 $4 anyway."
	fi
	warn "Warning: $3 asks for $1 $2, but ${have_phrase:-this stack has} $1 $4."
	warn "The build goes on with $1 $4. To get $1 $2, $5."
	warn "Set the config var PAAS_STRICT_VERSIONS=1 to make this an error."
}

# version_is HAVE WANT succeeds when version HAVE is WANT or one of its
# releases: WANT 3.12 takes any 3.12.x, WANT 3.12.1 only itself.
version_is() {
	case "$1." in
	"$2".*) return 0 ;;
	esac
	return 1
}

# tool_versions NAME prints the versions asdf's .tool-versions names for the
# tool NAME (nodejs, python, golang), one a line: asdf takes the first that
# is installed, so any of them will do.
tool_versions() {
	[ -f "$build/.tool-versions" ] || return 0
	sed 's/#.*//' "$build/.tool-versions" | awk -v tool="$1" '$1 == tool { for (i = 2; i <= NF; i++) print $i }'
}

# Debian suites and the versions of nodejs and python3 they ship (a stack
# made from one has them), oldest first, so a version warning can name a
# suite that has what the app asks for.
debian_versions='bookworm nodejs 18.19.0
bookworm python 3.11.2
trixie nodejs 20.19.2
trixie python 3.13.5'

# check_version LANGUAGE WHERE HAVE MATCHES HINT ASKED... warns (or fails,
# see version_unavailable) unless the version HAVE that the build uses is one
# of the ASKED ones, as the command MATCHES (called as MATCHES HAVE ASKED)
# decides; HINT ASKED prints how to get the first one. An app that asks
# nothing (no ASKED) gets nothing, and "system" (asdf's word for the
# machine's own) takes any version.
check_version() {
	_language=$1 _where=$2 _have=$3 _matches=$4 _hint=$5
	shift 5
	[ $# -gt 0 ] || return 0
	_asked=
	for _version in "$@"; do
		# asdf's "system" is whatever the machine has.
		[ "$_version" != system ] || return 0
		"$_matches" "$_have" "$_version" && return 0
		_asked="${_asked:+$_asked or }$_version"
	done
	version_unavailable "$_language" "$_asked" "$_where" "$_have" "$("$_hint" "$1")"
}

# stack_hint LANGUAGE TOOL ASKED MATCHES prints how to get a stack with
# version ASKED of LANGUAGE: from the first Debian suite whose TOOL version
# the command MATCHES (called as MATCHES VERSION ASKED) accepts, else from
# any source that has it.
stack_hint() {
	_suite=$(echo "$debian_versions" | while read -r _name _tool _version; do
		if [ "$_tool" = "$2" ] && "$4" "$_version" "$3" >/dev/null 2>&1; then
			echo "$_name $_version"
			break
		fi
	done)
	if [ -n "$_suite" ]; then
		set -- "$1" "${_suite%% *}" "${_suite#* }"
		echo "build on a stack made from Debian $2, which has $1 $3: \`paas stack create $2 --suite $2\`, then \`paas build --stack $2\`"
	else
		echo "build on a stack that has it: \`paas stack create NAME --suite SUITE\` from a Debian suite that ships it, --build-packages and --run-packages naming packages that provide it, or \`paas stack import\`"
	fi
}
