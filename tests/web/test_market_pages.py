"""The public market pages as served (no browser): the frame the scripts fill
in, the canonical URL, a strict Content-Security-Policy that the templates
keep (no inline script, no inline handler, no inline style), and the static
files they load. The live behaviour is in tests/web/browser/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from apps.markets.services import markets_seed
from apps.web.market_views import step_decimals

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def markets(db):
    return markets_seed()


def test_overview_lists_every_pair_with_a_link_to_its_page(client, markets):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for pair in markets:
        assert f'data-pair="{pair.symbol}"' in html
        assert f'href="/markets/{pair.symbol}"' in html
    assert 'href="/v1/docs"' in html


def test_market_page_passes_the_pair_and_its_grid_in_data_attributes(client, markets):
    response = client.get("/markets/ETH-BTC")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-pair="ETH-BTC"' in html
    assert 'data-price-decimals="5"' in html  # tick 0.00001 BTC
    assert 'data-size-decimals="3"' in html  # lot 0.001 ETH
    assert 'data-ws-path="/v1/ws"' in html
    for interval in ("1m", "5m", "15m", "1h", "4h", "1d"):
        assert f'data-interval="{interval}"' in html


def test_market_page_redirects_to_the_canonical_symbol(client, markets):
    response = client.get("/markets/btc-usd")
    assert response.status_code == 301
    assert response["Location"] == "/markets/BTC-USD"


def test_unknown_market_is_a_404_page(client, markets):
    response = client.get("/markets/XXX-USD")
    assert response.status_code == 404
    assert "No market" in response.content.decode()
    assert client.get("/markets/" + "A" * 40).status_code == 404


@pytest.mark.parametrize("path", ["/", "/markets/BTC-USD"])
def test_pages_forbid_inline_code_and_contain_none(client, markets, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]  # settings.CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy
    html = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts), scripts
    assert not re.search(r"<script\b[^>]*>(?!</script>)", html), "an inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "an inline style"
    assert "<style" not in html


@pytest.mark.parametrize("path", ["/", "/markets/BTC-USD"])
def test_every_static_file_a_page_loads_exists(client, markets, path):
    html = client.get(path).content.decode()
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and "web/site.css" in assets
    for asset in assets:
        assert finders.find(asset), asset


def test_vendored_chart_library_is_the_noted_version_with_its_licence():
    vendor = ROOT / "static" / "vendor"
    notes = (vendor / "README.md").read_text()
    bundle = (
        vendor / "lightweight-charts" / "lightweight-charts.standalone.production.js"
    )
    version = re.search(r"Lightweight Charts™ v(\d+\.\d+\.\d+)", bundle.read_text())
    assert version and f"lightweight-charts@{version[1]}" in notes
    assert "Apache License" in (vendor / "lightweight-charts" / "LICENSE").read_text()


def test_page_scripts_have_no_inline_eval():
    for script in (ROOT / "static" / "web").glob("*.js"):
        text = script.read_text()
        assert "eval(" not in text and "new Function" not in text, script
        assert "innerHTML" not in text, script  # data goes in as text


@pytest.mark.parametrize(
    ("step", "scale", "decimals"),
    [(10_000, 6, 2), (1, 6, 6), (1_000_000, 6, 0), (10_000, 8, 4), (1_000, 8, 5)],
)
def test_step_decimals(step, scale, decimals):
    assert step_decimals(step, scale) == decimals
