"""The explorer in headless Chromium, driven through ChromeDriver.

    python explorer.py --url http://127.0.0.1:9944 --proposal 1 --screenshots DIR
                       [--vectors vectors.json]

Opens /explorer on a running node and checks what the page shows: the head growing
live, the validators of every region, a proposal under its kind and status filters,
its per-region tallies, its timeline with every event proof verified in the browser,
proofs with a tampered receipt, signature, chain, validator set, header or quorum
refused by the page's own verify function, BLAKE3 against vectors computed by the
Rust implementation, the delivery figures of the executed proposal as
gov_getDeliveryMetrics gives them (every region, one region, per day with its chart) and
a reversed period refused, an unknown proposal and an unreachable node shown as such.
Saves a screenshot of each view in DIR. Exits non-zero with the failed check.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Page:
    def __init__(self, driver, base, shots):
        self.d = driver
        self.base = base.rstrip("/")
        self.shots = shots

    def go(self, fragment):
        self.d.get(f"{self.base}/explorer{fragment}")

    def wait(self, what, condition, timeout=30):
        try:
            # The chain view re-renders on every block: an element read a moment ago may be gone.
            return WebDriverWait(
                self.d, timeout, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
            ).until(lambda d: condition())
        except TimeoutException:
            self.shot("failed")
            banner = self.text("#error")
            raise AssertionError(f"timed out waiting for {what} (error banner: {banner!r})")

    def find(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        found = self.find(css)
        return found[0].text if found else ""

    def js(self, script, *args):
        """Runs an async function body (`args` as `args`); its result, or raises."""
        wrapped = (
            "const done = arguments[arguments.length - 1];"
            "const args = Array.from(arguments).slice(0, -1);"
            f"(async () => {{ {script} }})().then(r => done({{ok: r}}), e => done({{error: String(e && e.stack || e)}}));"
        )
        answer = self.d.execute_async_script(wrapped, *args)
        if "error" in answer:
            raise AssertionError(f"script failed: {answer['error']}")
        return answer["ok"]

    def shot(self, name):
        """A screenshot of the whole page, not only the window."""
        width, height = self.d.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": min(int(height), 8000), "deviceScaleFactor": 1, "mobile": False},
        )
        path = os.path.join(self.shots, f"{name}.png")
        self.d.save_screenshot(path)
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        print(f"screenshot {path}")
        return path


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def chain_view(p):
    p.go("#/")
    p.wait("the head height", lambda: p.text("#head-height").isdigit())
    p.wait("recent blocks", lambda: len(p.find("#blocks tbody tr")) > 0)
    first = int(p.text("#head-height"))
    # Read in the page, in one step: the live view replaces its rows on every block.
    top_row = "return Number(document.querySelector('#blocks tbody tr').dataset.height);"
    top = p.js(top_row)
    p.wait("the WebSocket", lambda: p.text("#live") == "live")
    # New blocks arrive over the WebSocket, without a reload.
    marker = p.js("document.body.dataset.loaded = 'once'; return 1;")
    p.wait("the head to grow live", lambda: int(p.text("#head-height")) >= first + 3)
    p.wait("new rows", lambda: p.js(top_row) >= top + 3)
    check(p.js("return document.body.dataset.loaded;") == "once", "the page reloaded")
    check(marker == 1, "scripts do not run")
    # Validators of both regions, with the signatures of the last certificates.
    for region in ["eu", "us"]:
        rows = p.find(f'.region[data-region="{region}"] tbody tr')
        check(len(rows) == 2, f"region {region}: {len(rows)} validators listed")
        signed = p.find(f'.region[data-region="{region}"] td.signed')
        check(len(signed) > 0, f"region {region}: no signature marks")
    names = p.js("return [...document.querySelectorAll('.region tbody tr')].map(r => r.dataset.validator);")
    check(sorted(names) == ["eu-1", "eu-2", "us-1", "us-2"], f"validators {names}")
    grown = int(p.text("#head-height"))
    print(f"chain view: head {first} -> {grown} live; validators {sorted(names)}")
    p.shot("chain")


def proposals_view(p, proposal, kind, status):
    p.go("#/proposals")
    p.wait("the proposal list", lambda: len(p.find(f'#proposal-list tr[data-id="{proposal}"]')) == 1)
    # Filter through the form: the route follows, the list is the filtered one.
    Select(p.find("#filter-kind")[0]).select_by_value(kind)
    p.wait("the kind filter in the route", lambda: f"kind={kind}" in p.d.current_url)
    Select(p.find("#filter-status")[0]).select_by_value(status)
    p.wait("the status filter in the route", lambda: f"status={status}" in p.d.current_url)
    p.wait("the filtered list", lambda: "matching" in p.text("#proposal-count"))
    rows = p.find("#proposal-list tbody tr")
    check(any(r.get_attribute("data-id") == str(proposal) for r in rows), f"proposal {proposal} not under kind={kind} status={status}")
    check(all(r.get_attribute("data-kind") == kind and r.get_attribute("data-status") == status for r in rows), "a row outside the filter")
    p.shot("proposals")
    # Another kind, and another region, do not list it.
    p.go(f"#/proposals?kind=pipeline_action&status={status}")
    p.wait("the other kind's list", lambda: "matching kind = pipeline action" in p.text("#proposal-count"))
    check(not p.find(f'#proposal-list tr[data-id="{proposal}"]'), "listed under another kind")
    p.go(f"#/proposals?kind={kind}&region=eu")
    p.wait("the region's list", lambda: "region = eu" in p.text("#proposal-count"))
    check(p.find(f'#proposal-list tr[data-id="{proposal}"]'), "not listed under its region eu")
    print(f"proposals view: #{proposal} under kind={kind} status={status}, region=eu; not under pipeline_action")


# Counts the event proofs each request to the node asks for, from here on in this page.
COUNT_PROOF_REQUESTS = r"""
window.proofRequests = [];
const original = window.fetch;
window.fetch = function (url, init) {
  const body = init && typeof init.body === 'string' ? init.body : '';
  if (body.includes('gov_getEventProof')) {
    const parsed = JSON.parse(body);
    window.proofRequests.push(Array.isArray(parsed) ? parsed.length : 1);
  }
  return original.apply(this, arguments);
};
"""


def proposal_view(p, proposal, state):
    # Opened from another view of the same page, so the request counter sees every call.
    p.go("#/proposals")
    p.wait("the proposals list", lambda: p.find("#proposal-list"))
    p.js(COUNT_PROOF_REQUESTS + "location.hash = args[0];", f"#/proposal/{proposal}")
    p.wait("the tallies", lambda: len(p.find(".tally[data-region]")) == 2)
    for region in ["eu", "us"]:
        card = p.text(f'.tally[data-region="{region}"]')
        check("yes 2" in card and "of 2 voters" in card, f"{region} tally: {card!r}")
        check("turnout" in card and "approval" in card and "reached" in card, f"{region} tally: {card!r}")
    p.wait("the timeline", lambda: len(p.find("#timeline > li")) >= 6)
    p.wait("every proof checked", lambda: not p.find('#timeline .proof[data-state="pending"]'), timeout=60)
    items = p.find("#timeline > li")
    types = [i.get_attribute("data-type") for i in items]
    check(types[0] == "proposal_submitted", f"timeline starts with {types[0]}")
    check(types.count("vote_cast") == 4, f"timeline {types}")
    statuses = [i.text for i in items if i.get_attribute("data-type") == "status_changed"]
    check(any("approved" in s for s in statuses), f"no approval in {statuses}")
    if state["status"]["status"] == "succeeded":
        # Executed by the agents: each region's phase requested, claimed and reported.
        for region in ["eu", "us"]:
            for kind, words in [
                ("execution_requested", f"Phase 1 of 1 requested in {region}"),
                ("execution_claimed", f"Phase 1 of 1 claimed in {region}"),
                ("execution_reported", f"Receipt: phase 1 of 1 in {region} succeeded"),
            ]:
                check(any(i.get_attribute("data-type") == kind and words in i.text for i in items), f"no {words!r} in the timeline")
        check(any("succeeded" in s for s in statuses), f"no success in {statuses}")
    failed = [m.text for m in p.find('#timeline .proof[data-state="failed"]')]
    check(not failed, f"proofs failed: {failed}")
    marks = [m.text for m in p.find('#timeline .proof[data-state="verified"]')]
    check(len(marks) == len(items), f"{len(marks)} of {len(items)} verified")
    check(all(m.startswith("verified ✓ (") and "signatures, quorum" in m for m in marks), f"marks {marks}")
    summary = p.text("#proof-summary")
    check("verified ✓" in summary and f"{len(items)} of {len(items)} event proofs" in summary, summary)
    # The stored events' proofs came in JSON-RPC batches, not a request each (events
    # that arrive live are asked for alone).
    requests = p.js("return window.proofRequests;")
    check(any(n > 1 for n in requests) and len(requests) < len(items), f"proof requests {requests} for {len(items)} events")
    # The details of one proof: the path, the root, the block and who signed.
    p.find("#timeline > li details summary")[1].click()
    detail = p.text("#timeline > li:nth-child(2) details ul")
    check("receipts root" in detail and "signed by" in detail, detail)
    print(f"proposal view: {len(items)} events {types}; {summary}; proofs asked in requests of {requests}")
    p.shot("proposal")


TAMPER = r"""
const x = window.accordExplorer;
const [cursor] = args;
const proof = await x.call('gov_getEventProof', [cursor]);
const chain = (await x.call('system_version')).chain_id;
const view = await x.call('chain_getValidators', [proof.header.height]);
const outcome = async (p, c, v) => {
  try { return 'ok: ' + x.describe(await x.verifyEventProof(p, c, x.validatorSet(v))); }
  catch (e) { return e instanceof x.ProofError ? 'refused: ' + e.check + ': ' + e.message : 'threw: ' + e; }
};
const copy = (o) => JSON.parse(JSON.stringify(o));
const results = {};
results.honest = await outcome(proof, chain, view);
let t = copy(proof); t.receipt.events[0].choice = t.receipt.events[0].choice === 'yes' ? 'no' : 'yes';
results.receipt = await outcome(t, chain, view);
t = copy(proof); t.receipt.outcome = {result: 'failed', code: 'unauthorized', message: 'x'};
results.outcome = await outcome(t, chain, view);
t = copy(proof); t.path.siblings[0] = '0x' + '00'.repeat(32);
results.path = await outcome(t, chain, view);
t = copy(proof); const s = t.certificate.signatures[0].signature;
t.certificate.signatures[0].signature = s.slice(0, 10) + (s[10] === '0' ? '1' : '0') + s.slice(11);
results.signature = await outcome(t, chain, view);
t = copy(proof); t.certificate.signatures = t.certificate.signatures.slice(0, 2);
results.quorum = await outcome(t, chain, view);
t = copy(proof); t.header.state_root = '0x' + '11'.repeat(32);
results.header = await outcome(t, chain, view);
results.chain = await outcome(proof, chain + '-other', view);
const v = copy(view); v.regions[0].validators[0].power = '11';
results.set = await outcome(proof, chain, v);
t = copy(proof); t.cursor = cursor.replace(/:(\d+)$/, ':7');
results.event = await outcome(t, chain, view);
return results;
"""

EXPECTED = {
    "receipt": "refused: receipt path",
    "outcome": "refused: receipt path",
    "path": "refused: receipt path",
    "signature": "refused: signatures",
    "quorum": "refused: quorum",
    "header": "refused: certificate",
    "chain": "refused: chain",
    "set": "refused: validator set",
    "event": "refused: event",
}


def tampered_proofs(p):
    cursor = [i for i in p.find("#timeline > li") if i.get_attribute("data-type") == "vote_cast"][0].get_attribute("data-cursor")
    results = p.js(TAMPER, cursor)
    check(results["honest"].startswith("ok: verified ✓ (4 of 4 signatures, quorum 3)"), f"honest proof: {results['honest']}")
    for name, prefix in EXPECTED.items():
        check(results[name].startswith(prefix), f"tampered {name}: {results[name]} (expected {prefix})")
    print(f"tampered proofs of {cursor} refused: " + "; ".join(f"{k} -> {results[k].split(':')[1].strip()}" for k in EXPECTED))


def blake3_vectors(p, path):
    official_empty = "0xaf1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    got = p.js("return window.accordExplorer.toHex(window.accordExplorer.blake3(new Uint8Array(0)));")
    check(got == official_empty, f"blake3('') = {got}")
    count = 1
    if path:
        with open(path) as f:
            vectors = json.load(f)
        got = p.js(
            "const x = window.accordExplorer;"
            "return args[0].map(v => x.toHex(x.hash(v.tag, Uint8Array.from({length: v.len}, (_, i) => i % 251))));",
            vectors,
        )
        for vector, value in zip(vectors, got):
            check(value == vector["hash"], f"H({vector['tag']!r}, {vector['len']} bytes) = {value}, Rust says {vector['hash']}")
        count += len(vectors)
    print(f"blake3: {count} vectors equal")


def block_view(p, proposal):
    height = p.find("#timeline > li")[0].get_attribute("data-cursor").split(":")[0]
    p.go(f"#/block/{height}")
    p.wait("the block", lambda: p.text("#block").startswith(f"Block {height}"))
    cert = p.text("#certificate")
    check("validators signed" in cert and cert.count("✓") >= 3, cert)
    receipts = p.text("#receipts")
    check("submit proposal" in receipts and f"#{proposal}" in receipts, receipts)
    print(f"block view: block {height} with its certificate and receipts")
    p.shot("block")

def duration(seconds):
    """The page's duration format: the two largest units, such as "2 h 5 min"."""
    if seconds is None:
        return "–"
    half = lambda x: math.floor(x + 0.5)
    if seconds < 10:
        tenths = half(seconds * 10)
        return f"{tenths // 10} s" if tenths % 10 == 0 else f"{tenths / 10} s"
    total = half(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min" + (f" {total % 60} s" if total % 60 else "")
    minutes = half(total / 60)
    if minutes < 1440:
        return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")
    hours = half(total / 3600)
    return f"{hours // 24} d" + (f" {hours % 24} h" if hours % 24 else "")


def per_day(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2g}"


def figures_shown(p):
    """The summary's four figures: (value as the node gave it, text), by figure."""
    shown = {}
    for figure in p.find("#delivery-summary .figure"):
        value = figure.find_element(By.CSS_SELECTOR, ".value")
        shown[figure.get_attribute("data-figure")] = (value.get_attribute("data-value"), value.text, figure.text)
    return shown


def same_number(shown, given):
    return (shown == "" and given is None) or (shown != "" and given is not None and math.isclose(float(shown), given))


def check_delivery_page(p, answer, what):
    """The summary and the table show what gov_getDeliveryMetrics answered."""
    t = answer["total"]
    shown = figures_shown(p)
    check(set(shown) == {"deployments", "lead-time", "change-failure-rate", "time-to-restore"}, f"{what}: figures {list(shown)}")
    for figure, key, text in [
        ("deployments", "deployments", str(t["deployments"])),
        ("lead-time", "lead_time_mean_seconds", duration(t["lead_time_mean_seconds"])),
        ("change-failure-rate", "change_failure_rate", "–" if t["change_failure_rate"] is None else f"{t['change_failure_rate'] * 100:.1f} %"),
        ("time-to-restore", "time_to_restore_mean_seconds", duration(t["time_to_restore_mean_seconds"])),
    ]:
        value, big, card = shown[figure]
        check(same_number(value, t[key]), f"{what}: {figure} is {value!r} on the page, {t[key]!r} from the node")
        check(big == text, f"{what}: {figure} shows {big!r}, expected {text!r}")
    card = shown["deployments"][2]
    check(f"{per_day(t['deployments_per_day'])} per day over {answer['days']} days" in card, f"{what}: {card!r}")
    card = shown["lead-time"][2]
    check(f"max {duration(t['lead_time_max_seconds'])}" in card, f"{what}: {card!r}")
    if t["executed"]:
        card = shown["change-failure-rate"][2]
        check(f"{t['failed']} of {t['executed']} execution" in card, f"{what}: {card!r}")
    period = p.text("#delivery-period")
    check(f"{answer['from']} to {answer['to']}" in period, f"{what}: period {period!r}")
    rows = p.find("#delivery-series tbody tr")
    keys = sorted((r.get_attribute("data-region"), r.get_attribute("data-kind")) for r in rows)
    check(keys == sorted((s["region"], s["kind"]) for s in answer["series"]), f"{what}: rows {keys}")
    for s in answer["series"]:
        row = p.find(f'#delivery-series tr[data-region="{s["region"]}"][data-kind="{s["kind"]}"] td')
        cells = [c.text for c in row]
        check(cells[2] == str(s["total"]["deployments"]) and cells[7] == duration(s["total"]["lead_time_mean_seconds"]), f"{what}: {s['region']} row {cells}")


DELIVERY = "return await window.accordExplorer.call('gov_getDeliveryMetrics', [args[0], args[1]]);"


def delivery_view(p, regions):
    # Every region: the deployments of the executed proposal, as the node counts them.
    p.go("#/delivery")
    p.wait("the delivery figures", lambda: p.find("#delivery-summary") or p.find("#delivery-error"))
    check(not p.find("#delivery-error"), p.text("#delivery-error"))
    check("active" in p.find('nav a[data-nav="delivery"]')[0].get_attribute("class"), "the nav link is not active")
    answer = p.js(DELIVERY, {}, "total")
    t = answer["total"]
    check(t["deployments"] == len(regions) and t["executed"] == len(regions) and t["failed"] == 0, f"the node counts {t}")
    check(sorted(s["region"] for s in answer["series"]) == sorted(regions), f"series {answer['series']}")
    check(all(s["kind"] == "documentation_change" for s in answer["series"]), f"series {answer['series']}")
    check_delivery_page(p, answer, "every region")
    check(p.find("#delivery-from")[0].get_attribute("value") == answer["from"], "the period's first day is not in the form")

    # Per day: a bar chart whose bars add up to the deployments.
    Select(p.find("#delivery-bucket")[0]).select_by_value("day")
    p.wait("the day buckets in the route", lambda: "bucket=day" in p.d.current_url)
    p.wait("the chart", lambda: p.find("#delivery-chart svg g.bucket"))
    check("from=" not in p.d.current_url, f"the default period was put in the route: {p.d.current_url}")
    days = p.find("#delivery-chart svg g.bucket")
    check(len(days) == answer["days"], f"{len(days)} bars for {answer['days']} days")
    drawn = sum(int(g.get_attribute("data-deployments")) for g in days)
    check(drawn == t["deployments"], f"the chart draws {drawn} deployments")
    check(len(p.find("#delivery-chart rect.bar")) >= 1, "no bar drawn")
    check_delivery_page(p, p.js(DELIVERY, {}, "day"), "per day")
    p.shot("delivery")
    # Per week: one bar per 7 days from the first day, the last one cut at the period's end.
    Select(p.find("#delivery-bucket")[0]).select_by_value("week")
    p.wait("the week buckets", lambda: p.find('#delivery-summary[data-bucket="week"]'))
    weeks = p.find("#delivery-chart svg g.bucket")
    check(len(weeks) == (answer["days"] + 6) // 7, f"{len(weeks)} bars for {answer['days']} days")
    check(sum(int(g.get_attribute("data-deployments")) for g in weeks) == t["deployments"], "the weeks lose deployments")
    check_delivery_page(p, p.js(DELIVERY, {}, "week"), "per week")

    # One region: its own figures, only its row.
    Select(p.find("#delivery-region")[0]).select_by_value(regions[0])
    p.wait("the region in the route", lambda: f"region={regions[0]}" in p.d.current_url)
    p.wait("the region's figures", lambda: p.find(f'#delivery-summary[data-region="{regions[0]}"]'))
    one = p.js(DELIVERY, {"region": regions[0]}, "week")
    check(one["total"]["deployments"] == 1 and len(one["series"]) == 1, f"{regions[0]}: {one['total']}")
    check_delivery_page(p, one, f"region {regions[0]}")
    check(figures_shown(p)["deployments"][1] == "1", f"{regions[0]}: {figures_shown(p)}")

    # A period ending before it starts: the node's refusal, said plainly.
    p.go("#/delivery?from=2025-03-31&to=2025-03-01")
    p.wait("the refusal", lambda: p.find("#delivery-error"))
    refusal = p.text("#delivery-error")
    check("-32602" in refusal and "to (2025-03-01) is before from (2025-03-31)" in refusal, refusal)
    check(p.find("#delivery-filters") and not p.find("#delivery-summary"), "the form is gone or figures shown")
    p.shot("delivery-refused")
    print(f"delivery view: {t['deployments']} deployments in {', '.join(regions)} "
          f"(lead time {duration(t['lead_time_mean_seconds'])}), {regions[0]} alone 1; refused: {refusal}")


def errors(p):
    p.go("#/proposal/999999")
    p.wait("the unknown proposal", lambda: "No proposal 999999" in p.text("#not-found"))
    p.shot("unknown-proposal")
    # The node goes away (the browser offline): said in the banner, not a blank page.
    p.d.execute_cdp_cmd("Network.enable", {})
    p.d.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    p.d.execute_script("location.hash = '#/proposals?kind=roadmap_change'")
    p.wait("the unreachable node", lambda: "Node unreachable" in p.text("#error"))
    check("retry" in p.text("#view"), "no retry offered")
    p.shot("unreachable")
    p.d.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    p.find("#view button")[0].click()
    p.wait("the page again", lambda: "matching kind = roadmap change" in p.text("#proposal-count"))
    check(not p.find("#error")[0].is_displayed(), "the banner stayed")
    print("errors: unknown proposal and unreachable node shown; recovered")


def console(p):
    """Messages of the browser console so far: none may be a policy violation or an error."""
    bad = []
    for entry in p.d.get_log("browser"):
        message = entry.get("message", "")
        if "Content Security Policy" in message or entry.get("level") == "SEVERE":
            bad.append(message)
    check(not bad, f"console: {bad}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--proposal", type=int, required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--vectors")
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="accord-chromium-") as profile:
        driver = browser(profile)
        driver.set_script_timeout(60)
        p = Page(driver, args.url, args.screenshots)
        try:
            chain_view(p)
            state = p.js("return (await window.accordExplorer.call('gov_getProposal', [args[0]])).state;", args.proposal)
            proposals_view(p, args.proposal, state["kind"], state["status"]["status"])
            proposal_view(p, args.proposal, state)
            tampered_proofs(p)
            blake3_vectors(p, args.vectors)
            block_view(p, args.proposal)
            if state["status"]["status"] == "succeeded":
                delivery_view(p, sorted(state["regions"]))
            console(p)
            errors(p)
        except AssertionError as failure:
            print(f"FAILED: {failure}", file=sys.stderr)
            for entry in driver.get_log("browser"):
                print(f"console: {entry.get('level')} {entry.get('message')}", file=sys.stderr)
            return 1
        finally:
            driver.quit()
    print(f"explorer: every check passed in {time.time() - started:.1f} s; screenshots in {args.screenshots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
