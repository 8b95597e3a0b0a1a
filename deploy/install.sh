#!/usr/bin/env bash
# deploy/install.sh — install probe on one regional host (idempotent).
# Run from the source tree as root; `deploy/install.sh --help` says more.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: deploy/install.sh [options]

Installs probe on this host: the system user, /var/lib/probe (0700),
/etc/probe (0750) and /etc/probe/scenarios, the binary and man page, the
systemd units (probe@.service, probe@.timer, probe-serve.service), the
example /etc/probe.conf (an existing one is kept) and a bearer token for
`probe serve` in /etc/probe/serve.token (0600; an existing one is kept).
Running it again changes nothing that is already in place, except the
binary, the man page and the units, which it installs afresh (local unit
changes belong in drop-ins: `systemctl edit probe@.service`).

options:
  --prefix DIR     install under DIR (default: $PREFIX, else /usr/local)
  --user NAME      the system user runs and serve run as (default:
                   $PROBE_USER, else probe)
  --binary FILE    copy FILE as the binary instead of `make install`
                   (a probe built elsewhere, on the same Debian release)
  --setcap         setcap cap_net_raw+ep on the binary, for runs started
                   by cron (systemd's units give CAP_NET_RAW themselves)
  --cron           also install /etc/cron.d/probe (deploy/probe.cron; an
                   existing one is kept); implies --setcap
  --root DIR       stage everything under DIR (packaging, tests): no user
                   is created, no ownership set, systemd not reloaded
  --dry-run        print the actions, change nothing
  -h, --help       this text
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
prefix=${PREFIX:-/usr/local}
user=${PROBE_USER:-probe}
binary='' setcap=0 cron=0 root='' dry=0

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=${2:?--prefix needs a directory}; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	--user) user=${2:?--user needs a name}; shift ;;
	--user=*) user=${1#*=} ;;
	--binary) binary=${2:?--binary needs a file}; shift ;;
	--binary=*) binary=${1#*=} ;;
	--setcap) setcap=1 ;;
	--cron) cron=1 setcap=1 ;;
	--root) root=${2:?--root needs a directory}; shift ;;
	--root=*) root=${1#*=} ;;
	--dry-run | -n) dry=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "install.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

case $prefix in /*) ;; *) echo "install.sh: --prefix must be absolute: $prefix" >&2; exit 2 ;; esac
if [ -n "$root" ]; then
	case $root in /*) ;; *) root=$PWD/$root ;; esac
	root=${root%/}
fi
case $user in '' | *[!a-z0-9_-]*) echo "install.sh: bad user name '$user'" >&2; exit 2 ;; esac
if [ -n "$binary" ] && [ ! -x "$binary" ] && [ $dry -eq 0 ]; then
	echo "install.sh: $binary: not an executable file" >&2; exit 2
fi
if [ $dry -eq 0 ] && [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run as root (or --dry-run, or --root DIR to stage)" >&2; exit 2
fi

bin=$prefix/bin/probe
etc=$root/etc/probe
state=$root/var/lib/probe
unitdir=$root/etc/systemd/system
done_list=()

# act WHAT CMD...: run CMD (or only print it with --dry-run), and note WHAT.
act() {
	local what=$1; shift
	if [ $dry -eq 1 ]; then
		printf 'would: %s\n    %s\n' "$what" "$*"
	else
		printf '%s\n' "$what"
		"$@"
	fi
	done_list+=("$what")
}
keep() { printf 'kept: %s\n' "$1"; }

# owner USER:GROUP: install's -o/-g options, none when staging
owner() { [ -n "$root" ] || printf -- '-o %s -g %s' "${1%%:*}" "${1##*:}"; }

gen_token() { # FILE
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp"
	echo >>"$tmp"
	chmod 0600 "$tmp"
	[ -n "$root" ] || chown "$user:$user" "$tmp"
	mv "$tmp" "$1"
}

install_unit() { # NAME
	local tmp
	tmp=$(mktemp)
	sed "s|/usr/local/bin/probe|$bin|g" "$here/$1" >"$tmp"
	install -m 0644 "$tmp" "$unitdir/$1"
	rm -f "$tmp"
}

install_cron() {
	local tmp
	tmp=$(mktemp)
	sed "s|^PATH=/usr/local/bin:|PATH=$prefix/bin:|; s|\* \* \* \* probe |* * * * $user |" \
		"$here/probe.cron" >"$tmp"
	install -m 0644 "$tmp" "$root/etc/cron.d/probe"
	rm -f "$tmp"
}

echo "probe install: prefix $prefix, user $user${root:+, staged under $root}$([ $dry -eq 1 ] && echo ', dry run')"

# 1. the user
if [ -n "$root" ]; then
	echo "skipped: user $user (staging under --root)"
elif getent passwd "$user" >/dev/null; then
	keep "user $user"
else
	act "create system user $user" useradd --system --user-group \
		--home-dir /var/lib/probe --no-create-home \
		--shell /usr/sbin/nologin --comment "probe synthetic client" "$user"
fi

# 2. directories (install -d resets modes on existing ones: idempotent)
# shellcheck disable=SC2046
act "directory $state (0700, $user)" install -d -m 0700 $(owner "$user:$user") "$state"
# shellcheck disable=SC2046
act "directory $etc (0750, root:$user)" install -d -m 0750 $(owner "root:$user") "$etc"
# shellcheck disable=SC2046
act "directory $etc/scenarios (0750, root:$user)" install -d -m 0750 $(owner "root:$user") "$etc/scenarios"

# 3. binary and man page
if [ -n "$binary" ]; then
	act "binary $root$bin (from $binary)" install -D -m 0755 "$binary" "$root$bin"
	act "man page $root$prefix/share/man/man1/probe.1" \
		install -D -m 0644 "$src/docs/probe.1" "$root$prefix/share/man/man1/probe.1"
else
	act "binary $root$bin and man page (make install)" \
		make -C "$src" --no-print-directory install PREFIX="$prefix" DESTDIR="$root"
fi
if [ $setcap -eq 1 ]; then
	act "file capability cap_net_raw+ep on $root$bin (cron runs)" \
		setcap cap_net_raw+ep "$root$bin"
fi

# 4. systemd units (ours: installed afresh; local changes go in drop-ins)
act "directory $unitdir" install -d -m 0755 "$unitdir"
for u in probe@.service probe@.timer probe-serve.service; do
	act "unit $unitdir/$u" install_unit "$u"
done

# 5. configuration, secrets, token: never overwritten
if [ -e "$root/etc/probe.conf" ]; then
	keep "$root/etc/probe.conf"
else
	act "config $root/etc/probe.conf (from probe.conf.example: set region and probe_id)" \
		install -D -m 0644 "$here/probe.conf.example" "$root/etc/probe.conf"
fi
if [ -e "$etc/secrets.env" ]; then
	keep "$etc/secrets.env"
else
	# shellcheck disable=SC2046
	act "scenario secrets $etc/secrets.env (empty, 0640 root:$user)" \
		install -m 0640 $(owner "root:$user") /dev/null "$etc/secrets.env"
fi
if [ -e "$etc/serve.token" ]; then
	keep "$etc/serve.token"
else
	act "serve token $etc/serve.token (0600, $user)" gen_token "$etc/serve.token"
fi
if [ $cron -eq 1 ]; then
	if [ -e "$root/etc/cron.d/probe" ]; then
		keep "$root/etc/cron.d/probe"
	else
		act "directory $root/etc/cron.d" install -d -m 0755 "$root/etc/cron.d"
		act "cron entry $root/etc/cron.d/probe" install_cron
	fi
fi

# 6. tell systemd
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	act "systemctl daemon-reload" systemctl daemon-reload
fi

cat <<EOF

$([ $dry -eq 1 ] && echo "dry run: nothing was changed (${#done_list[@]} actions above)" || echo "done (${#done_list[@]} actions)").
Next steps:
  1. Edit /etc/probe.conf: region (e.g. eu-west-1) and probe_id (stable,
     e.g. eu-west-1-a).
  2. Put scenarios in /etc/probe/scenarios/NAME.scn (root:$user 0640) and
     check them: $bin check /etc/probe/scenarios/*.scn
     Their \${VAR} secrets go in /etc/probe/secrets.env.
  3. Start one timer per scenario:
       systemctl enable --now probe@NAME.timer
     (or, without systemd: deploy/install.sh --cron)
  4. Serve /metrics and the runs to Prometheus and the collector:
       systemctl enable --now probe-serve.service
     listening on 0.0.0.0:9464 (PROBE_SERVE_LISTEN in /etc/probe/serve.env);
     give /etc/probe/serve.token to the collector and Prometheus.
  5. Try one run now: systemctl start probe@NAME.service; $bin report
EOF
