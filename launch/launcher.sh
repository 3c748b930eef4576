#!/bin/sh
# The paas launcher: the image's entrypoint. It prepares the environment the
# way Heroku does at dyno start, then runs one process of the app.
#
#   launcher TYPE            run the process type TYPE (from the Procfile or
#                            the buildpacks' release defaults) through /bin/sh -c
#   launcher CMD [ARGS...]   run any command with the same environment
cd /app || exit 70
export HOME=/app
export PORT="${PORT:-5000}"
for f in /app/.profile.d/*.sh; do
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
	*=* | if | for | while | until | case | '{' | '!' | exec) return 1 ;;
	esac
	return 0
}
if [ $# -eq 1 ] && [ -f "/paas/processes/$1" ]; then
	PAAS_PROCESS_TYPE=$1
	export PAAS_PROCESS_TYPE
	command=$(cat "/paas/processes/$1")
	# The app must be the process that gets SIGTERM: dash does not replace
	# itself with the last command of -c, so simple commands get an exec.
	if simple "$command"; then
		exec /bin/sh -c "exec $command"
	fi
	exec /bin/sh -c "$command"
fi
exec "$@"
