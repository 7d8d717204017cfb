"""Generated call data with known answers for the call accounting tests
(test_report.py, test_report_html.py): two sources in different zones,
written as the PBXs write them, and what cdr_call must make of them.

office: a KX-HTS (Europe/Berlin; the default trunks DAHDI/1-8 and
SIP/carrier*). branch: Asterisk 18 columns (America/New_York; trunks
SIP/trunk-*). Times below are the PBXs' wall clocks.
"""
from pathlib import Path


def kx(acct, caller, callee, src, dst, start, answer, end, total, talk, status, uid):
    f = [acct, caller, callee, src, dst, "", "", "", start, answer, end, str(total),
         str(talk), status, uid]
    return ",".join(f'"{x}"' if x else "" for x in f)


def ast(src, dst, chan, dchan, start, answer, end, duration, billsec, disp, uid):
    q = lambda s: f'"{s}"'  # noqa: E731
    f = [q(""), q(src), q(dst), q("from-internal"), q(f'"" <{src}>'), q(chan), q(dchan),
         q("Dial"), q(dchan), q(start), q(answer) if answer else "", q(end), str(duration),
         str(billsec), q(disp), q("DOCUMENTATION"), q(uid), q("")]
    return ",".join(f)


# Each call: (source, call_id, local day, direction, outcome, extension,
# destination, trunk, ring_s, talk_s, legs), and its rows.
OFFICE_ROWS = [
    # 1 incoming, one leg, answered after 10 s, 300 s of talk
    kx("", "0301234567", "201", "DAHDI/1-1", "SIP/201-00000001", "2026-11-02 09:00:00",
       "2026-11-02 09:00:10", "2026-11-02 09:05:10", 310, 300, "ANSWERED", "1000.1"),
    # 2 ring group: 201 and 203 ring unanswered, 202 answers after 8 s (not missed)
    kx("", "0309999999", "201", "DAHDI/2-1", "SIP/201-00000002", "2026-11-02 10:00:00",
       "", "2026-11-02 10:00:08", 8, 0, "NO ANSWERED", "1000.2"),
    kx("", "0309999999", "202", "DAHDI/2-1", "SIP/202-00000003", "2026-11-02 10:00:00",
       "2026-11-02 10:00:08", "2026-11-02 10:02:08", 128, 120, "ANSWERED", "1000.2"),
    kx("", "0309999999", "203", "DAHDI/2-1", "SIP/203-00000004", "2026-11-02 10:00:00",
       "", "2026-11-02 10:00:08", 8, 0, "NO ANSWER", "1000.2"),
    # 3 ring group nobody answers: one missed call, not two
    kx("", "0308888888", "201", "SIP/carrier1_abc-00000005", "SIP/201-00000006",
       "2026-11-02 11:00:00", "", "2026-11-02 11:00:30", 30, 0, "NO ANSWERED", "1000.3"),
    kx("", "0308888888", "202", "SIP/carrier1_abc-00000005", "SIP/202-00000007",
       "2026-11-02 11:00:00", "", "2026-11-02 11:00:30", 30, 0, "NO ANSWERED", "1000.3"),
    # 4 outgoing on a SIP carrier, answered after 5 s, 600 s
    kx("", "201", "0301112222", "SIP/201-00000008", "SIP/carrier1_abc-00000009",
       "2026-11-02 12:00:00", "2026-11-02 12:00:05", "2026-11-02 12:10:05", 605, 600,
       "ANSWERED", "1000.4"),
    # 5 outgoing, busy (the manual's busy rows may carry talk seconds)
    kx("", "202", "0305555555", "SIP/202-0000000a", "DAHDI/3-1", "2026-11-03 08:00:00", "",
       "2026-11-03 08:00:03", 3, 2, "BUSY", "1000.5"),
    # 6 internal, answered after 4 s, 60 s
    kx("", "201", "202", "SIP/201-0000000b", "SIP/202-0000000c", "2026-11-03 09:00:00",
       "2026-11-03 09:00:04", "2026-11-03 09:01:04", 64, 60, "ANSWERED", "1000.6"),
    # 7 internal, failed
    kx("", "201", "299", "SIP/201-0000000d", "", "2026-11-03 09:30:00", "",
       "2026-11-03 09:30:01", 1, 0, "FAILED", "1000.7"),
    # 8 incoming, answered by 201 (5 s), blind transfer to 202: one call, 55 + 120 s
    kx("", "0307777777", "201", "DAHDI/4-1", "SIP/201-0000000e", "2026-11-03 10:00:00",
       "2026-11-03 10:00:05", "2026-11-03 10:01:00", 60, 55, "ANSWERED", "1000.8"),
    kx("", "*", "202", "DAHDI/4-1", "SIP/202-0000000f", "2026-11-03 10:01:00",
       "2026-11-03 10:01:03", "2026-11-03 10:03:03", 123, 120, "ANSWERED", "1000.8"),
    # 9 incoming at 00:30 local on the 4th (23:30 UTC on the 3rd), missed
    kx("", "0306666666", "203", "DAHDI/1-2", "SIP/203-00000010", "2026-11-04 00:30:00", "",
       "2026-11-04 00:30:20", 20, 0, "NO ANSWERED", "1000.9"),
    # 10, 11 the day clocks go back (CEST -> CET): 00:30 CEST is 22:30 UTC on
    # the 24th, 23:30 CET is 22:30 UTC on the 25th; both are the 25th's
    kx("", "203", "202", "SIP/203-00000011", "SIP/202-00000012", "2026-10-25 00:30:00",
       "2026-10-25 00:30:02", "2026-10-25 00:31:02", 62, 60, "ANSWERED", "1000.10"),
    kx("", "203", "201", "SIP/203-00000013", "SIP/201-00000014", "2026-10-25 23:30:00",
       "2026-10-25 23:30:03", "2026-10-25 23:32:03", 123, 120, "ANSWERED", "1000.11"),
]

BRANCH_ROWS = [
    # B1 incoming on the trunk, answered after 6 s, 120 s
    ast("2125551234", "100", "SIP/trunk-00000001", "SIP/100-00000002", "2026-11-02 08:00:00",
        "2026-11-02 08:00:06", "2026-11-02 08:02:06", 126, 120, "ANSWERED", "1700000000.1"),
    # B2 outgoing at 23:30 local on the 2nd (04:30 UTC on the 3rd), no answer
    ast("100", "2125550000", "SIP/100-00000003", "SIP/trunk-00000004", "2026-11-02 23:30:00",
        "", "2026-11-02 23:30:20", 20, 0, "NO ANSWER", "1700000000.2"),
]

# (source, call_id) -> expected cdr_call columns
CALLS = {
    ("office", "1000.1"): dict(day="2026-11-02", direction="incoming", outcome="answered",
                               extension="201", destination="201", trunk="DAHDI/1",
                               ring_s=10, talk_s=300, legs=1),
    ("office", "1000.2"): dict(day="2026-11-02", direction="incoming", outcome="answered",
                               extension="202", destination="201", trunk="DAHDI/2",
                               ring_s=8, talk_s=120, legs=3),
    ("office", "1000.3"): dict(day="2026-11-02", direction="incoming", outcome="missed",
                               extension="201", destination="201", trunk="SIP/carrier1_abc",
                               ring_s=30, talk_s=0, legs=2),
    ("office", "1000.4"): dict(day="2026-11-02", direction="outgoing", outcome="answered",
                               extension="201", destination="0301112222",
                               trunk="SIP/carrier1_abc", ring_s=5, talk_s=600, legs=1),
    ("office", "1000.5"): dict(day="2026-11-03", direction="outgoing", outcome="busy",
                               extension="202", destination="0305555555", trunk="DAHDI/3",
                               ring_s=3, talk_s=0, legs=1),
    ("office", "1000.6"): dict(day="2026-11-03", direction="internal", outcome="answered",
                               extension="201", destination="202", trunk=None,
                               ring_s=4, talk_s=60, legs=1),
    ("office", "1000.7"): dict(day="2026-11-03", direction="internal", outcome="failed",
                               extension="201", destination="299", trunk=None,
                               ring_s=1, talk_s=0, legs=1),
    ("office", "1000.8"): dict(day="2026-11-03", direction="incoming", outcome="answered",
                               extension="201", destination="201", trunk="DAHDI/4",
                               ring_s=5, talk_s=175, legs=2),
    ("office", "1000.9"): dict(day="2026-11-04", direction="incoming", outcome="missed",
                               extension="203", destination="203", trunk="DAHDI/1",
                               ring_s=20, talk_s=0, legs=1),
    ("office", "1000.10"): dict(day="2026-10-25", direction="internal", outcome="answered",
                                extension="203", destination="202", trunk=None,
                                ring_s=2, talk_s=60, legs=1),
    ("office", "1000.11"): dict(day="2026-10-25", direction="internal", outcome="answered",
                                extension="203", destination="201", trunk=None,
                                ring_s=3, talk_s=120, legs=1),
    ("branch", "1700000000.1"): dict(day="2026-11-02", direction="incoming",
                                     outcome="answered", extension="100", destination="100",
                                     trunk="SIP/trunk", ring_s=6, talk_s=120, legs=1),
    ("branch", "1700000000.2"): dict(day="2026-11-02", direction="outgoing", outcome="missed",
                                     extension="100", destination="2125550000",
                                     trunk="SIP/trunk", ring_s=20, talk_s=0, legs=1),
}


def setup(workdir, dsn, branch_trunks=("SIP/trunk-*",)):
    """Write both sources' files and importer.yaml under workdir; return
    the config's path. Import with `import --source NAME`."""
    workdir = Path(workdir)
    for name, rows_, ext in (("office", OFFICE_ROWS, "csv"), ("branch", BRANCH_ROWS, "csv")):
        d = workdir / name
        d.mkdir(exist_ok=True)
        (d / f"Master.{ext}").write_text("\n".join(rows_) + "\n", encoding="utf-8")
    trunks = ""
    if branch_trunks is not None:
        trunks = "    trunks: [" + ", ".join(f'"{t}"' for t in branch_trunks) + "]\n"
    cfg = workdir / "importer.yaml"
    cfg.write_text(
        f'database:\n  dsn: "{dsn}"\n'
        "sources:\n"
        f'  - name: office\n    path: "{workdir}/office"\n    timezone: Europe/Berlin\n'
        f'    processed_dir: "{workdir}/p1"\n    failed_dir: "{workdir}/f1"\n'
        f'  - name: branch\n    path: "{workdir}/branch"\n    timezone: America/New_York\n'
        f'    format: asterisk\n{trunks}'
        f'    processed_dir: "{workdir}/p2"\n    failed_dir: "{workdir}/f2"\n',
        encoding="utf-8")
    return str(cfg)


def local_starts():
    """(source, call_id) -> the first leg's start, as the PBX's clock says
    it ("YYYY-MM-DD HH:MM:SS")."""
    import csv
    out = {}
    for source, rows_, t, uid in (("office", OFFICE_ROWS, 8, 14),
                                  ("branch", BRANCH_ROWS, 9, 16)):
        for rec in csv.reader(rows_):
            key = (source, rec[uid])
            out[key] = min(out.get(key, rec[t]), rec[t])
    return out
