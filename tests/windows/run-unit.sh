#!/usr/bin/env bash
# run-unit.sh - make windows-check: each unit-test program built for Windows
# under Wine, its output shown whole, then a closing count.
#
# A program that fails with cmocka's summary printed has a failing test: that
# is a failure, full stop. One that exits non-zero without the summary never
# got to the end (Wine could not start it, or it died), and the log alone
# says nothing of why; it is run once more with Wine's error channel on, so
# that the log names the cause. Passing the second time is reported as such
# (it is counted, and named in the closing line) rather than hidden.
#
# Usage: WINE=/usr/lib/wine/wine64 WINEPREFIX=... run-unit.sh PROGRAM.exe...
# (WINESERVER: the wineserver beside WINE unless set)
set -u
wine=${WINE:-wine}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# A new prefix is set up by the first program Wine starts, partly in the
# background; make it, and wait for Wine to be done with it, before any test
# runs, so that no test shares its start with that work.
WINEDEBUG=-all "$wine" wineboot --init >/dev/null 2>&1
"${WINESERVER:-$(dirname "$wine")/wineserver}" -w ||
    echo "== run-unit.sh: could not wait for the wineserver (set WINESERVER); going on"
passed=0 failed=0 second=()
for t in "$@"; do
    echo "== $t"
    WINEDEBUG=-all "$wine" "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    if [[ $rc == 0 ]]; then
        passed=$((passed + 1))
        continue
    fi
    if grep -q 'test(s) run\.' "$log"; then
        echo "== $t: exit status $rc: a test failed"
        failed=$((failed + 1))
        continue
    fi
    echo "== $t: exit status $rc before cmocka's summary; once more, with Wine's errors shown"
    WINEDEBUG=err+all,fixme-all "$wine" "$t" >"$log" 2>&1
    rc2=$?
    cat "$log"
    if [[ $rc2 == 0 ]]; then
        echo "== $t: passed the second time (the first run exited $rc with no summary)"
        passed=$((passed + 1))
        second+=("$(basename "$t")")
    else
        echo "== $t: exit status $rc2 the second time too"
        failed=$((failed + 1))
    fi
done
note=
((${#second[@]})) && note=" (passed only the second time: ${second[*]})"
echo "windows-check: $passed passed, $failed failed$note"
((passed > 0 && failed == 0))
