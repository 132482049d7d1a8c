"""Sign-in: a wrong key is refused with a message, a right one opens the app and the live feed;
the key lives in sessionStorage (localStorage only when remembered), never in a URL; sign-out
forgets it."""

KEY_ITEM = "ledgrab.apiKey"


def _stored(page) -> dict:
    return page.evaluate(
        f"() => ({{session: sessionStorage.getItem('{KEY_ITEM}'),"
        f" local: localStorage.getItem('{KEY_ITEM}')}})"
    )


def test_wrong_key_is_refused_then_right_key_signs_in(ui, server):
    page = ui.open("/")
    page.get_by_label("API key").fill("lg_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    alert = page.locator("#signin-error")
    alert.wait_for()
    assert "not accepted" in alert.inner_text()
    assert page.locator("#shell").is_hidden()
    assert _stored(page) == {"session": None, "local": None}
    ui.shot(page, "signin-refused")

    ui.sign_in(page)
    assert "admin" in page.locator("#actor").inner_text()
    assert server.api_key not in page.url
    assert _stored(page) == {"session": server.api_key, "local": None}
    ui.shot(page, "dashboard")

    page.reload()
    page.locator("#feed-status.live").wait_for()  # still signed in within this tab

    page.get_by_role("button", name="Sign out").click()
    page.locator("#signin").wait_for()
    assert _stored(page) == {"session": None, "local": None}
    page.reload()
    page.get_by_label("API key").wait_for()
    assert page.locator("#shell").is_hidden()


def test_remembered_key_survives_a_new_tab(ui, server):
    page = ui.open("/")
    ui.sign_in(page, remember=True)
    assert _stored(page) == {"session": None, "local": server.api_key}
    second = page.context.new_page()  # same browser profile, fresh sessionStorage
    second.goto(server.base_url + "/#/settings")
    second.locator("#feed-status.live").wait_for()
    second.get_by_role("heading", name="Settings").wait_for()


def test_websocket_feed_drops_types_off_the_allowlist(ui):
    page = ui.signed_in("/")
    result = page.evaluate(
        """async () => {
            const { EventFeed } = await import('/js/events.js');
            const feed = new EventFeed({ key: 'x' });
            const seen = [];
            feed.on('*', (m) => seen.push(m.type));
            feed.receive(JSON.stringify({ type: 'not_a_real_event' }));
            feed.receive('not json');
            feed.receive(JSON.stringify({ type: 'device_lost', id: 'a' }));
            return { seen, ignored: feed.ignored };
        }"""
    )
    assert result == {"seen": ["device_lost"], "ignored": 2}
