#!/bin/sh
# The paas launcher: the image's entrypoint. It prepares the environment the
# way Heroku does at dyno start, then runs one process of the app.
#
#   launcher TYPE            run the process type TYPE (from the Procfile or
#                            the buildpacks' release defaults) through bash -c,
#                            or /bin/sh -c when the image has no bash
#   launcher CMD [ARGS...]   run any command with the same environment
#
# Heroku starts processes with bash, so .profile.d scripts and Procfile
# commands may use its syntax (BASH_SOURCE, arrays, [[ ]]): the launcher runs
# itself again under bash when the image has one, and otherwise goes on as
# the POSIX script it is.
if [ -z "${BASH_VERSION:-}" ] && command -v bash >/dev/null 2>&1; then
	exec bash "$0" "$@"
fi
cd /app || exit 70
export HOME=/app
export PORT="${PORT:-5000}"
# The process type is known before the profile scripts run: the launch
# environment of Cloud Native Buildpacks has changes for one type alone.
if [ $# -eq 1 ] && [ -f "/paas/processes/$1" ]; then
	PAAS_PROCESS_TYPE=$1
	export PAAS_PROCESS_TYPE
fi
for f in /paas/profile.d/*.sh /app/.profile.d/*.sh; do
	if [ -r "$f" ]; then . "$f"; fi
done
if [ -r /app/.profile ]; then . /app/.profile; fi
if [ $# -eq 0 ]; then
	echo "paas launcher: no process type or command given; process types: $(ls /paas/processes 2>/dev/null | tr '\n' ' ')" >&2
	exit 64
fi
# simple reports whether a command is one plain command, which the shell
# may replace itself with: no lists, pipes, subshells or substitutions, no
# leading assignment or keyword. A trailing "# comment" is ignored.
simple() {
	body=${1%% #*}
	case $body in
	*[\;\&\|\(\)\`]* | *'
'*) return 1 ;;
	esac
	case ${body%% *} in
	*=* | if | for | while | until | case | '{' | '!' | '[[' | exec | time | function | select | coproc) return 1 ;;
	esac
	return 0
}
if [ $# -eq 1 ] && [ -f "/paas/processes/$1" ]; then
	command=$(cat "/paas/processes/$1")
	paas_shell=/bin/sh
	if [ -n "${BASH_VERSION:-}" ]; then paas_shell=$BASH; fi
	# The app must be the process that gets SIGTERM: dash does not replace
	# itself with the last command of -c, so simple commands get an exec.
	if simple "$command"; then
		exec "$paas_shell" -c "exec $command"
	fi
	exec "$paas_shell" -c "$command"
fi
exec "$@"
