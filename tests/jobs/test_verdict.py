#!/usr/bin/python3
"""test_verdict.py - the exactly-once verdict and the name parsing of
tests/jobs/fleet.py, on synthetic inputs (pure, fast, no peers).

Why: the crash-torture tests pass or fail on this verdict; a verdict that
miscounts (a job id with '_' split in the wrong place, a resubmission counted
as a duplicate print, a missing job.printed not noticed) would make them
prove nothing.

usage: test_verdict.py [unittest args]
"""

import sys
import unittest

import fleet


class NamesTest(unittest.TestCase):
    def test_kept_names(self):
        p = fleet.parse_kept_name
        self.assertEqual(p("12-job-0007_1_1.jpg"), ("job-0007", 1, 1))
        self.assertEqual(p("/x/spool/3-job-x_1_2.jpg"), ("job-x", 1, 2))
        # Job ids with '_' and '-': the last two '_' fields are copy and attempt.
        self.assertEqual(p("7-a_b-c_d_12_3.jpg"), ("a_b-c_d", 12, 3))
        self.assertEqual(p("1-_x_1_1.pwg"), ("_x", 1, 1))
        self.assertEqual(p("1-9_1_1.jpg"), ("9", 1, 1))
        self.assertEqual(p("100-job-1-2_3_4.prn"), ("job-1-2", 3, 4))
        for bad in ("job-x_1_1.jpg", "12-job-x_1.jpg", "12-job-x_a_1.jpg", "12-_1_1.jpg",
                    "12-job-x_1_1", "x-job_1_1.jpg", "12-photo.jpg", ""):
            self.assertIsNone(p(bad), bad)
        self.assertEqual(fleet.kept_to_job_name("12-a_b_2_1.jpg"), "a_b/2/1")

    def test_job_names_and_items(self):
        self.assertEqual(fleet.parse_job_name("a_b-c/2/1"), ("a_b-c", 2, 1))
        self.assertEqual(fleet.parse_job_name("j/1/x"), None)
        self.assertEqual(fleet.parse_job_name("j/1"), None)
        self.assertEqual(fleet.parse_job_name("/1/1"), None)
        self.assertEqual(fleet.item_to_job_name("J42%2F1%2F1"), "J42/1/1")
        self.assertEqual(fleet.item_to_job_name("A%207%3Ax%2F2%2F1"), "A 7:x/2/1")


def ev(kind, job):
    return {"kind": kind, "job_id": job, "body": {}}


class VerdictTest(unittest.TestCase):
    def test_all_printed_once(self):
        v = fleet.verdict({"j1": 2, "j_2": 1},
                          {"p1": ["j1/1/1", "j_2/1/3"], "p2": ["j1/2/1"]},
                          events=[ev("job.rendered", "j1"), ev("job.printed", "j1"),
                                  ev("job.printed", "j_2")])
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        self.assertEqual(v["copies"][("j1", 2)]["printers"], ["p2"])
        self.assertEqual(v["copies"][("j_2", 1)]["attempts"], [3])
        self.assertEqual(v["events"]["j1"], {"printed": 1,
                                             "kinds": ["job.rendered", "job.printed"]})
        self.assertIn("ok", fleet.format_verdict(v))

    def test_duplicates_across_printers_and_attempts(self):
        v = fleet.verdict({"j": 2}, {"a": ["j/1/1", "j/2/1"], "b": ["j/1/2"]})
        self.assertEqual(v["duplicates"], [("j", 1, 2, ["a", "b"])])
        self.assertEqual(v["copies"][("j", 1)]["attempts"], [1, 2])
        self.assertEqual(v["missing"], [])
        self.assertFalse(v["ok"])
        self.assertIn("duplicates (1)", fleet.format_verdict(v))

    def test_missing_and_unexpected(self):
        v = fleet.verdict({"j": 3, "k": 1},
                          {"a": ["j/2/1", "j/4/1", "zzz/1/1", "not a job name"]})
        self.assertEqual(v["missing"], [("j", 1), ("j", 3), ("k", 1)])
        self.assertEqual(v["unexpected"], [("a", "j/4/1"), ("a", "zzz/1/1"),
                                           ("a", "not a job name")])
        self.assertFalse(v["ok"])

    def test_resubmissions_received_are_not_duplicates(self):
        # Attempt 1 reached the printer but never printed (printer killed); attempt 2 printed.
        v = fleet.verdict({"j": 1}, {"a": ["j/1/2"]}, received={"a": ["j/1/1", "j/1/2"]})
        self.assertTrue(v["ok"], fleet.format_verdict(v))
        self.assertEqual(v["copies"][("j", 1)]["received"], 2)
        self.assertEqual(v["copies"][("j", 1)]["printed"], 1)

    def test_events(self):
        exp = {"done": 1, "twice": 1, "early": 2, "silent": 1}
        printed = {"p": ["done/1/1", "twice/1/1", "early/1/1", "silent/1/1"]}
        events = [ev("job.printed", "done"), ev("job.printed", "twice"),
                  ev("job.printed", "twice"), ev("job.printed", "early"),
                  ev("job.printed", "other-lab-job")]
        v = fleet.verdict(exp, printed, events=events)
        self.assertEqual(v["events_missing"], ["silent"])
        self.assertEqual(v["events_duplicate"], ["twice"])
        self.assertEqual(v["events_premature"], ["early"])
        self.assertEqual(v["missing"], [("early", 2)])
        self.assertFalse(v["ok"])
        self.assertNotIn("other-lab-job", v["events"])

    def test_without_events_only_prints_count(self):
        v = fleet.verdict({"j": 1}, {"p": ["j/1/1"]})
        self.assertTrue(v["ok"])
        self.assertNotIn("events", v)

    def test_empty(self):
        v = fleet.verdict({}, {}, events=[])
        self.assertTrue(v["ok"])
        self.assertEqual(v["copies"], {})


class ConfigTest(unittest.TestCase):
    def test_config_text(self):
        text = fleet.agent_config(
            8443, "/c", "/s",
            [{"name": "ds620", "driver": "ipp", "uri": "ipp://127.0.0.1:631/ipp/print",
              "model": "dnp-ds620", "weight": 2.5},
             {"name": "qss", "driver": "hotfolder", "folder": "/h", "format": "generic",
              "model": "noritsu-qss-3701", "enabled": False}],
            workers=3, platform={"download_concurrency": 4})
        self.assertIn("  url: https://localhost:8443/\n", text)
        self.assertIn("  download_concurrency: 4\n", text)
        self.assertIn("printers:\n  - name: ds620\n    driver: ipp\n"
                      "    uri: ipp://127.0.0.1:631/ipp/print\n    model: dnp-ds620\n"
                      "    weight: 2.5\n", text)
        self.assertIn("    enabled: false\n", text)
        self.assertIn("render:\n  workers: 3\n", text)
        self.assertIn("profiles:\n  directory: %s\n" % fleet.PROFILES_DIR, text)
        self.assertIn("    media_type: photographic-matte\n", text)
        self.assertEqual(fleet._scalar("true"), '"true"')
        self.assertEqual(fleet._scalar("10"), '"10"')
        self.assertEqual(fleet._scalar("a: b"), '"a: b"')


if __name__ == "__main__":
    sys.exit(0 if unittest.main(argv=sys.argv, exit=False, verbosity=2).result.wasSuccessful()
             else 1)
