"""Security defaults: the gateway listens on 127.0.0.1 unless told otherwise, refuses another address
without client keys, asks every /v1 request for a key (compared in constant time) and never writes one
down, caps uploads (413, nothing left on disk), and never makes a path of a client's file name."""

import base64
import socket

import httpx
import openai
import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from tests.helpers.cli import one_error, run_cli
from tests.helpers.gateway import Gateway, free_port, recording, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

KEYS = {"GATEWAY_KEY_A": "sk-gw-alpha-7f3a9c1e5b", "GATEWAY_KEY_B": "sk-gw-beta-2d8e4f6a0c"}
WRONG = "sk-gw-wrong-9b1c3e5d7f"


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as s:
        yield s


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("secure")


@pytest.fixture(scope="module")
def gateway(server, root):
    systems = systems_file(root / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12)
    keys = ("--api-key-env", "GATEWAY_KEY_A", "--api-key-env", "GATEWAY_KEY_B")
    with Gateway(systems, root / "data", *keys, "--max-upload-mb", "1", env=KEYS) as gw:
        yield gw


@pytest.fixture(scope="module")
def short(root):
    return recording(root / "short.wav", 2)[0]  # 25 s of 16 kHz WAV: 0.8 MB


def this_machine_address() -> str | None:
    """An address of this machine other than loopback (None if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_it_listens_on_127_0_0_1_by_default(gateway):
    assert f"listening on http://127.0.0.1:{gateway.port} " in gateway.log()
    other = this_machine_address()
    if other is None:
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{other}:{gateway.port}/health", timeout=3)


def test_another_address_is_refused_without_keys(root):
    port = free_port()
    p = run_cli("serve", "--systems", str(root / "systems.toml"), "--host", "0.0.0.0", "--port", str(port))
    line = one_error(p)
    assert "--host 0.0.0.0" in line and "--api-key-env" in line
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    unset = run_cli("serve", "--systems", str(root / "systems.toml"), "--api-key-env", "NOT_SET_ANYWHERE")
    assert "--api-key-env NOT_SET_ANYWHERE: the variable is not set" in one_error(unset)


def test_a_second_gateway_on_the_same_data_dir_is_refused(gateway, root):
    p = run_cli("serve", "--systems", str(root / "systems.toml"), "--data-dir", str(root / "data"))
    assert "another gateway is using it" in one_error(p)


def test_every_request_needs_a_key_and_no_key_is_ever_written(gateway, short, root):
    for key in ("none", WRONG):
        with pytest.raises(openai.AuthenticationError) as exc:
            gateway.client(key).audio.transcriptions.create(file=open(short, "rb"), model="sys")
        assert exc.value.status_code == 401 and exc.value.body["code"] == "invalid_api_key"
    with gateway.http() as http:
        assert http.get("/v1/models").status_code == 401 and http.get("/health").status_code == 200
    text = (
        gateway.client(KEYS["GATEWAY_KEY_A"])
        .audio.transcriptions.create(file=open(short, "rb"), model="sys")
        .text
    )
    assert text.count("heard") == 2
    assert [m.id for m in gateway.client(KEYS["GATEWAY_KEY_B"]).models.list().data] == ["sys"]
    with gateway.http(KEYS["GATEWAY_KEY_A"]) as http:
        job = http.post(
            "/v1/jobs", files={"file": ("a.wav", short.read_bytes())}, data={"system": "sys"}
        ).json()
        assert http.get(f"/v1/jobs/{job['id']}").status_code == 200
    secrets = [*KEYS.values(), WRONG]
    assert not any(s in gateway.log() for s in secrets)
    for f in root.rglob("*"):  # the jobs table, the chunk cache, everything the gateway wrote
        if f.is_file():
            data = f.read_bytes()
            assert not any(s.encode() in data for s in secrets), f


def test_uploads_over_the_limit_are_413_and_leave_nothing(gateway, root):
    big = recording(root / "big.wav", 4)[0]  # 51 s: 1.6 MB, over the 1 MB limit
    client = gateway.client(KEYS["GATEWAY_KEY_A"])
    with pytest.raises(openai.APIStatusError) as exc:
        client.audio.transcriptions.create(file=open(big, "rb"), model="sys")
    assert exc.value.status_code == 413 and exc.value.body["code"] == "file_too_large"
    assert "1 MB" in exc.value.body["message"]
    audio = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(big.read_bytes()).decode(), "format": "wav"},
    }
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="sys", messages=[{"role": "user", "content": [audio]}])
    assert exc.value.status_code == 413
    with gateway.http(KEYS["GATEWAY_KEY_A"]) as http:
        assert (
            http.post(
                "/v1/jobs", files={"file": ("big.wav", big.read_bytes())}, data={"system": "sys"}
            ).status_code
            == 413
        )
        assert http.get("/health").json()["waiting"] == 0  # the places those requests held are free again
    left = [p.name for p in (root / "data" / "uploads").iterdir()]
    assert all(n.startswith("job_") for n in left), left  # earlier jobs' kept recordings; no partial file


@pytest.mark.parametrize(
    "name", ["../../escape.wav", "/tmp/absolute.wav", "..", "a\nb\x1b[31m.wav", "~/.bashrc"]
)
def test_a_client_file_name_never_becomes_a_path(gateway, short, root, name):
    client = gateway.client(KEYS["GATEWAY_KEY_A"])
    r = client.audio.transcriptions.create(file=(name, short.read_bytes()), model="sys")
    assert r.text.count("heard") == 2
    with gateway.http(KEYS["GATEWAY_KEY_A"]) as http:
        job = http.post("/v1/jobs", files={"file": (name, short.read_bytes())}, data={"system": "sys"}).json()
    shown = job["file"]  # the name is shown as data (without control characters), never used
    assert shown == name if name.isprintable() else shown.isprintable() and shown.endswith("[31m.wav")
    assert not (root / "escape.wav").exists() and not (root.parent / "escape.wav").exists()
    assert not any("escape" in p.name or "absolute" in p.name for p in root.rglob("*"))
    assert all(p.name.startswith(("req-", "job_", ".req-")) for p in (root / "data" / "uploads").iterdir())
