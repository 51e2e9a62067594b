#!/usr/bin/python3
"""test_render_stage.py - the daemon renders what it downloads, and the
platform hears how it went.

Why: a render done only by `labagent render` proves the pipeline, not the
product. Here the real daemon, fed real JPEGs by the sandbox platform,
chooses a printer, renders on its worker pool with the lab's sample colour
registry (real Debian ICC profiles), and records each outcome with its event:
job.rendered with the audit record (the file on disk matches its sha256),
job.quality_warning for a wide-gamut master going to a small-gamut paper,
job.rejected for a corrupt master, job.held for a product no printer can do
(naming each printer's reason), and an interrupted render redone at start-up
to the same bytes.

usage: test_render_stage.py LABAGENT EVENT_WRITER [unittest args]
"""

import base64
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile

import test_link as tl

ADOBE_RGB = "/usr/share/color/icc/colord/AdobeRGB1998.icc"

# States a rendered job may be in by the time the test looks: the print stage
# takes it on to its printer at once.
RENDERED = ("rendered", "queued", "submitting", "printing", "printed", "reported")


def extra_config(workdir):
    """Two printers that can both do 4x6 and 5x7 (hot folders nobody empties:
    what is sent to them just waits there); ds620 weighs more, so it wins
    while its queue is short. Nobody has the square."""
    folders = {}
    for name in ("ds620", "cpd90"):
        folders[name] = os.path.join(workdir, "hot-" + name)
        os.makedirs(folders[name], exist_ok=True)
    return """  - sku: print-4x6-matte
    media: na_index-4x6_4x6in
    media_type: photographic-matte
  - sku: print-square
    media: custom_8x8_8x8in
printers:
  - name: ds620
    driver: hotfolder
    folder: %s
    model: dnp-ds620
    weight: 10
  - name: cpd90
    driver: hotfolder
    folder: %s
    model: mitsubishi-cp-d90
profiles:
  directory: %s
render:
  workers: 2
  gamut_warn: 0.05
""" % (folders["ds620"], folders["cpd90"], os.path.join(tl.SOURCE, "profiles"))


def vips_jpeg(workdir, name, ppm, options):
    """A JPEG made by the vips CLI from PPM bytes, with save options."""
    src = os.path.join(workdir, name + ".ppm")
    dst = os.path.join(workdir, name + ".jpg")
    with open(src, "wb") as f:
        f.write(ppm)
    subprocess.run(["vips", "copy", src, "%s[%s]" % (dst, options)], check=True, timeout=60)
    with open(dst, "rb") as f:
        return f.read()


def ppm(width, height, rgb):
    """A flat-colour binary PPM."""
    return b"P6\n%d %d\n255\n" % (width, height) + bytes(rgb) * (width * height)


class RenderStageTest(tl.AgentTestCase):
    def events_of(self, sb, kind):
        return {e["job_id"]: e for e in sb.events() if e["kind"] == kind}

    def test_jobs_rendered_rejected_held_and_warned(self):
        sb = self.sandbox()
        # Saturated green in Adobe RGB: far outside the sRGB gamut of the matte paper.
        wide = vips_jpeg(self.dir, "wide", ppm(600, 900, (0, 255, 0)),
                         "Q=95,profile=" + ADOBE_RGB)
        good = vips_jpeg(self.dir, "good", ppm(600, 900, (128, 120, 110)), "Q=95")
        sb.add_jobs([
            {"id": "job-ok", "order_id": "o1", "sku": "print-4x6-glossy", "quantity": 1},
            {"id": "job-wide", "order_id": "o2", "sku": "print-4x6-matte", "quantity": 1,
             "asset_data_b64": base64.b64encode(wide).decode()},
            {"id": "job-crop", "order_id": "o3", "sku": "print-4x6-glossy", "quantity": 1,
             "asset_data_b64": base64.b64encode(good).decode(),
             "crop": {"x": 100, "y": 150, "width": 400, "height": 600}},
            {"id": "job-corrupt", "order_id": "o4", "sku": "print-4x6-glossy", "quantity": 1,
             "asset_data_b64": base64.b64encode(good[:len(good) // 3]).decode()},
            {"id": "job-square", "order_id": "o5", "sku": "print-square", "quantity": 1},
        ])
        ag = self.agent(sb, extra=extra_config(self.dir))
        ag.start()
        final = {"job-ok": RENDERED, "job-wide": RENDERED, "job-crop": RENDERED,
                 "job-corrupt": ("rejected",), "job-square": ("held",)}
        tl.wait_until(lambda: all(ag.job_states().get(j) in s for j, s in final.items()),
                      tl.WAIT_WORK, "every job rendered, rejected or held")
        tl.wait_until(lambda: ag.outbox() == 0, tl.WAIT_WORK, "the outbox delivered")

        rendered = self.events_of(sb, "job.rendered")
        self.assertEqual(sorted(rendered), ["job-crop", "job-ok", "job-wide"])
        for job_id, ev in rendered.items():
            body = ev["body"]
            self.assertEqual(body["printer"], "ds620", job_id)
            with open(body["output"], "rb") as f:
                data = f.read()
            audit = body["audit"]
            self.assertEqual(hashlib.sha256(data).hexdigest(), audit["output_sha256"])
            self.assertEqual((audit["width"], audit["height"]), (1240, 1844))
            self.assertRegex(audit["output_profile_id"], "^[0-9a-f]{32}$")
            # The store keeps the same audit record.
            row = ag.query("SELECT printer, audit FROM renders WHERE job_id = ?", job_id)
            self.assertEqual(len(row), 1)
            self.assertIn(audit["output_sha256"], row[0]["audit"])
        self.assertEqual(rendered["job-ok"]["body"]["audit"]["intent"], "perceptual")
        self.assertEqual(rendered["job-wide"]["body"]["audit"]["intent"], "relative")
        # The box used lies inside the job's crop box, trimmed (fill) to the paper's aspect.
        box = rendered["job-crop"]["body"]["audit"]["crop"]
        # 400x600 is narrower than 1240x1844: the full width, the height trimmed and centred.
        self.assertEqual((box["x"], box["width"]), (100, 400))
        self.assertEqual((box["y"], box["height"]), (152, 595))
        self.assertAlmostEqual(box["width"] / box["height"], 1240 / 1844, delta=0.005)

        warned = self.events_of(sb, "job.quality_warning")
        self.assertEqual(sorted(warned), ["job-wide"])
        w = warned["job-wide"]["body"]
        self.assertEqual(w["warning"], "gamut")
        self.assertGreater(w["gamut_share"], 0.5)
        self.assertEqual(w["threshold"], 0.05)
        self.assertEqual(w["printer"], "ds620")

        rejected = self.events_of(sb, "job.rejected")
        self.assertEqual(sorted(rejected), ["job-corrupt"])
        self.assertEqual(rejected["job-corrupt"]["body"]["reason"], "image_corrupt")

        held = self.events_of(sb, "job.held")
        self.assertEqual(sorted(held), ["job-square"])
        detail = held["job-square"]["body"]["detail"]
        self.assertEqual(held["job-square"]["body"]["reason"], "no_printer")
        self.assertIn("ds620: media_unsupported", detail)
        self.assertIn("cpd90: media_unsupported", detail)
        self.assertEqual(ag.stop(), 0)

    def test_interrupted_render_is_redone_to_the_same_bytes(self):
        sb = self.sandbox()
        sb.add_jobs([{"id": "job-r", "order_id": "o1", "sku": "print-5x7-matte",
                      "quantity": 2}])
        ag = self.agent(sb, extra=extra_config(self.dir))
        ag.start()
        tl.wait_until(lambda: ag.job_states().get("job-r") in RENDERED[1:], tl.WAIT_WORK,
                      "job-r rendered and queued")
        tl.wait_until(lambda: ag.outbox() == 0, tl.WAIT_WORK, "the outbox delivered")
        first = self.events_of(sb, "job.rendered")["job-r"]["body"]
        self.assertEqual(ag.stop(), 0)

        # As a crash mid-render leaves it: the job in "rendering", its output gone,
        # nothing queued or sent yet (so the hot folder is emptied too).
        os.unlink(first["output"])
        conn = sqlite3.connect(os.path.join(ag.state, "labagent.db"), timeout=10)
        with conn:
            conn.execute("UPDATE jobs SET state = 'rendering' WHERE id = 'job-r'")
            conn.execute("DELETE FROM copies WHERE job_id = 'job-r'")
        conn.close()
        for name in ("ds620", "cpd90"):
            folder = os.path.join(self.dir, "hot-" + name)
            for f in os.listdir(folder):
                path = os.path.join(folder, f)
                if os.path.isfile(path):
                    os.unlink(path)

        ag.start()
        tl.wait_until(lambda: len([e for e in sb.events() if e["kind"] == "job.rendered"
                                   and e["job_id"] == "job-r"]) == 2
                      and ag.job_states().get("job-r") in RENDERED[1:], tl.WAIT_WORK,
                      "job-r rendered again")
        tl.wait_until(lambda: ag.outbox() == 0, tl.WAIT_WORK, "the outbox delivered")
        again = [e["body"] for e in sb.events()
                 if e["kind"] == "job.rendered" and e["job_id"] == "job-r"]
        self.assertEqual(len(again), 2)
        self.assertEqual(again[1]["audit"]["output_sha256"], first["audit"]["output_sha256"])
        with open(again[1]["output"], "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             first["audit"]["output_sha256"])
        self.assertIn("its render was interrupted", ag.log())
        self.assertEqual(ag.stop(), 0)


if __name__ == "__main__":
    sys.exit(tl.main(module="__main__", doc=__doc__))
