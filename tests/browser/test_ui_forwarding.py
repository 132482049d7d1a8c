"""Settings → Forwarding in a real browser: add a signed webhook forwarder, see it deliver, edit
it without retyping the secret, see a refused value named, remove it."""

import hashlib
import hmac

from tests.support.http_collector import HttpCollector
from tests.support.live_server import wait_for

SECRET = "browser-test-secret-123"


def _configs(server) -> list[dict]:
    with server.client() as client:
        return [f["config"] for f in client.get("/api/v1/activity/forwarders").json()["forwarders"]]


def test_add_edit_and_remove_a_forwarder(ui, server):
    with HttpCollector() as collector:
        page = ui.signed_in("/#/settings?tab=forwarders")
        page.locator("#forwarder-list .empty").wait_for()
        page.get_by_role("button", name="Add forwarder").click()
        form = page.locator("#forwarder-form")
        form.get_by_label("Name").fill("bridge")
        form.get_by_label("Kind").select_option("webhook")
        form.get_by_label("URL").fill(collector.url("/hook"))
        form.get_by_label("HMAC secret").fill(SECRET)
        form.get_by_label("Start with").select_option("oldest")
        form.get_by_role("button", name="Add forwarder").click()
        row = page.locator('[data-forwarder="bridge"]')
        row.wait_for()
        wait_for(lambda: collector.received, what="a delivery")
        request = collector.received[0]
        digest = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-ledgrab-signature"] == "sha256=" + digest
        row.locator('[data-state="ok"]').wait_for()
        ui.shot(page, "settings-forwarding")

        # Edit: the secret field is empty (write-only) and saving keeps the stored secret.
        row.get_by_role("button", name="Edit").click()
        assert form.get_by_label("HMAC secret").input_value() == ""
        form.get_by_label("Minimum severity").select_option("warning")
        form.get_by_role("button", name="Save forwarder").click()
        wait_for(lambda: _configs(server)[0]["min_severity"] == "warning", what="the edit")
        assert server.app.state.forwarding.configs[0].target.secret == SECRET

        # A refused value is shown next to its field; nothing changes.
        row.get_by_role("button", name="Edit").click()
        form.get_by_label("Entries per batch").fill("5000")
        form.get_by_role("button", name="Save forwarder").click()
        # The browser's own check (the field's bounds) holds it, in words next to the field.
        form.locator("[role=alert]").filter(has_text="must be at most 1000").first.wait_for()
        ui.allowed_errors.append("status of 400")
        assert _configs(server)[0]["batch_size"] == 100

        page.get_by_role("button", name="Cancel").click()
        row.get_by_role("button", name="Remove").click()
        page.locator("dialog.confirm").get_by_role("button", name="Remove").click()
        row.wait_for(state="detached")
        assert _configs(server) == []


def test_the_forwarder_form_takes_its_choices_and_bounds_from_the_document(ui, server):
    with server.client() as client:
        schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    syslog, config = schemas["SyslogTarget"]["properties"], schemas["ForwarderConfig"]["properties"]
    page = ui.signed_in("/#/settings?tab=forwarders")
    page.get_by_role("button", name="Add forwarder").click()
    form = page.locator("#forwarder-form")
    # The form appears whole once the document is fetched; reading options earlier finds none.
    form.wait_for(state="attached")

    def offered(label: str) -> set[str]:
        select = form.get_by_label(label, exact=True)
        return set(select.locator("option").evaluate_all("options => options.map(o => o.value)"))

    assert offered("Facility") == set(syslog["facility"]["enum"])  # all 24, kern to local7
    assert offered("Transport") == set(syslog["transport"]["enum"])
    assert offered("Start with") == set(config["start"]["enum"])
    assert offered("Minimum severity") == set(schemas["Severity"]["enum"])
    for label, bounds in (("Port", syslog["port"]), ("Entries per batch", config["batch_size"])):
        field = form.get_by_label(label, exact=True)
        assert field.get_attribute("min") == str(bounds["minimum"]), label
        assert field.get_attribute("max") == str(bounds["maximum"]), label
