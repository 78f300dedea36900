#!/usr/bin/env python3
"""Render run reports in headless Chromium and fail on a blank page, a broken image or a
console error.

    python tools/check_report.py runs/main/report.html [more.html ...] [--screenshot PNG]

For each page a copy is made with a small probe script as the first thing in ``<head>``;
Chromium (``chromium``, ``chromium-browser`` or ``$CHROMIUM``) loads it with the network
off, runs the page and dumps the DOM after the load event. The probe records uncaught
errors, ``console.error`` calls and resources that failed to load, and on load writes a
JSON verdict into the DOM: images, how many decoded (``naturalWidth > 0``) and are laid out
with a size, the length of the visible text and the page height. Chromium's own console
log (``--enable-logging=stderr``) is scanned too. The page fails if:

* the probe did not run (the page did not load or scripts are broken),
* the visible text is shorter than ``--min-text`` characters or the page has no height
  (blank page),
* it has no image, or any image failed to decode or has no size,
* any error was recorded, or Chromium logged a console message,
* any ``src``/``href`` points outside the page (``http:``, ``https:``, ``//``, ``file:``).

Exit code 0 when every page passes, 1 otherwise, 2 when Chromium cannot be found or run.
Standard library only. Install Chromium on Debian with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """<script>(function(){
var errs=[];window.__probeErrors=errs;
window.addEventListener('error',function(e){var t=e.target;
 if(t&&t!==window&&(t.src||t.href)){
  errs.push('resource failed: '+String(t.src||t.href).slice(0,80));}
 else{errs.push('uncaught: '+e.message);}},true);
window.addEventListener('unhandledrejection',function(e){
 errs.push('unhandled rejection: '+e.reason);});
var ce=console.error;console.error=function(){errs.push('console.error: '+
 Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};
window.addEventListener('load',function(){
 var im=document.images,ok=0,sized=0;
 for(var i=0;i<im.length;i++){var r=im[i].getBoundingClientRect();
  if(im[i].complete&&im[i].naturalWidth>0){ok++;} if(r.width>0&&r.height>0){sized++;}}
 var out=document.createElement('script');out.type='application/json';out.id='__probe';
 out.textContent=JSON.stringify({images:im.length,decoded:ok,sized:sized,errors:errs,
  text:(document.body?document.body.innerText.trim().length:0),
  height:document.documentElement.scrollHeight,title:document.title});
 document.documentElement.appendChild(out);});
})();</script>"""
EXTERNAL = re.compile(r"""\s(?:src|href)\s*=\s*["']?\s*(?:https?:|//|file:|ftp:)""", re.I)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars")


def find_chromium() -> str | None:
    """Path of a Chromium binary (``$CHROMIUM`` first)."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def with_probe(page: str) -> str:
    """The page with the probe as the first element of ``<head>``."""
    m = re.search(r"<head[^>]*>", page, re.I)
    if m is None:
        return PROBE + page
    return page[:m.end()] + PROBE + page[m.end():]


def run_chromium(chromium: str, url: str, extra: list[str], timeout: float
                 ) -> subprocess.CompletedProcess:
    """Chromium on one URL in a fresh profile; the DOM on stdout, its log on stderr."""
    with tempfile.TemporaryDirectory(prefix="check-report-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
               "--v=0", "--virtual-time-budget=10000", *extra, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)


def check_page(chromium: str, path: Path, min_text: int, screenshot: Path | None,
               timeout: float) -> list[str]:
    """Problems found on one page (empty: it passes); prints what was checked."""
    page = path.read_text(encoding="utf-8")
    problems = [f"external reference: {m.group(0).strip()}" for m in EXTERNAL.finditer(page)]
    with tempfile.TemporaryDirectory(prefix="check-report-page-") as tmp:
        probed = Path(tmp) / path.name
        probed.write_text(with_probe(page), encoding="utf-8")
        done = run_chromium(chromium, probed.resolve().as_uri(), ["--dump-dom"], timeout)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    problems += [f"console: {line.split('] ', 1)[-1][:160]}" for line in console]
    m = re.search(r'<script type="application/json" id="__probe">(.*?)</script>', done.stdout,
                  re.S)
    if m is None:
        return [*problems, f"the probe did not report (chromium exit {done.returncode}): "
                "page did not load"]
    v = json.loads(m.group(1))
    print(f"  {path}: {v['images']} images ({v['decoded']} decoded, {v['sized']} laid out), "
          f"{v['text']} characters of text, {v['height']} px high, title {v['title']!r}, "
          f"{len(v['errors'])} errors, {len(console)} console messages")
    problems += [f"error: {e}" for e in v["errors"]]
    if v["text"] < min_text or v["height"] < 200:
        problems.append(f"blank page: {v['text']} characters, {v['height']} px")
    if v["images"] == 0:
        problems.append("no images")
    if v["decoded"] < v["images"] or v["sized"] < v["images"]:
        problems.append(f"broken images: {v['images'] - v['decoded']} not decoded, "
                        f"{v['images'] - v['sized']} without size")
    if screenshot is not None:
        height = min(max(int(v["height"]), 800), 16000)
        run_chromium(chromium, path.resolve().as_uri(),
                     [f"--screenshot={screenshot.resolve()}", f"--window-size=1280,{height}"],
                     timeout)
        print(f"  screenshot: {screenshot}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, metavar="HTML")
    parser.add_argument("--min-text", type=int, default=200,
                        help="fewest visible characters of a non-blank page (default 200)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="also save a screenshot (of the last page)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per page")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("check_report: no Chromium found (apt-get install -y chromium, or set "
              "$CHROMIUM)", file=sys.stderr)
        return 2
    print(f"check_report: {chromium}; checks: probe ran, text >= {args.min_text} "
          "characters, every <img> decoded and laid out, no errors or console messages, "
          "no external references")
    failed = 0
    for k, path in enumerate(args.pages):
        if not path.is_file():
            print(f"FAIL {path}: no such file")
            failed += 1
            continue
        shot = args.screenshot if k == len(args.pages) - 1 else None
        try:
            problems = check_page(chromium, path, args.min_text, shot, args.timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"check_report: cannot run {chromium}: {exc}", file=sys.stderr)
            return 2
        print(f"{'FAIL' if problems else 'ok  '} {path}")
        for p in problems:
            print(f"    - {p}")
        failed += bool(problems)
    print(f"check_report: {len(args.pages) - failed} of {len(args.pages)} pages passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
