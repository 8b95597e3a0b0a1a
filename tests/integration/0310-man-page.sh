#!/usr/bin/env bash
# The man page (issue 8): docs/probe.1 renders without a warning
# (groff -ww, and man(1) itself when installed), names every command the
# program lists and every exit status of DESIGN section 10, documents
# each long option of every command's --help, and `make install` puts it
# under PREFIX/share/man/man1.
. "$(dirname "$0")/lib.sh"

MAN=docs/probe.1
w=$(LC_ALL=C.UTF-8 MANWIDTH=80 groff -ww -man -Tutf8 "$MAN" 2>&1 >/dev/null)
expect_eq "$w" "" "groff -ww -man renders $MAN without warnings"
if command -v man >/dev/null; then
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$MAN" 2>&1 >/dev/null)
	expect_eq "$w" "" "man ./$MAN renders without warnings"
else
	skip "man ./$MAN renders without warnings" "man(1) is not installed"
fi
text=$(LC_ALL=C.UTF-8 MANWIDTH=200 groff -man -Tutf8 -P-cbou "$MAN" 2>/dev/null)

run_probe --help
cmds=$(awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' "$T/out")
for c in $cmds; do
	grep -q "^\.B probe $c\b" "$MAN" && grep -q "^\.B $c\b" "$MAN" &&
		ok "the man page has $c in SYNOPSIS and COMMANDS" || not_ok "the man page has $c in SYNOPSIS and COMMANDS"
	# every long option of the command's help is in the page
	run_probe help "$c"
	missing=""
	for o in $(grep -oE -- '--[a-z][a-z0-9-]+' "$T/out" | sort -u); do
		grep -qF -- "\\-\\-${o#--}" "$MAN" || grep -qF -- "$o" <<<"$text" || missing="$missing $o"
	done
	expect_eq "${missing# }" "" "every option of 'probe $c --help' is in the man page"
done
for sub in list show export prune fetch; do
	grep -q "^\\\\fB$sub\\\\fR" "$MAN" && ok "the man page has pcap $sub" || not_ok "the man page has pcap $sub"
done
ex=$(awk '/^\.SH EXIT STATUS/ {on = 1; next} /^\.SH/ {on = 0} on && /^\.B [0-9]$/ {printf "%s ", $2}' "$MAN")
expect_eq "$ex" "0 1 2 3 4 " "EXIT STATUS lists 0 to 4"

# installed by make install (a staging DESTDIR; nothing outside $T)
if make -s install DESTDIR="$T/stage" PREFIX=/usr/local >"$T/inst.log" 2>&1; then
	cmp -s "$MAN" "$T/stage/usr/local/share/man/man1/probe.1" &&
		ok "make install puts probe.1 in PREFIX/share/man/man1" || not_ok "make install puts probe.1 in PREFIX/share/man/man1"
	expect_eq "$(stat -c %a "$T/stage/usr/local/share/man/man1/probe.1")" 644 "the installed page is 0644"
else
	not_ok "make install DESTDIR=..." "$(tail -5 "$T/inst.log")"
fi
finish
