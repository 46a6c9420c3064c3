"""ttsctl's client commands send the API key and use TLS from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
import trustme

from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from ttsctl.connect import open_channel
from ttsctl.stubs import gateway_stub

_METHOD = "/tts.v1.GatewayService/ListVoices"


class _Recorder(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc has no stubs
    """Answers ListVoices and keeps the metadata each call arrived with."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.voice_name_bytes = 0
        """Pad the reply with a voice of this long a name (a big reply)."""

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method != _METHOD:
            return None

        def list_voices(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.seen.append(dict(context.invocation_metadata()))
            reply = gw.ListVoicesResponse(max_text_chars=7)
            if self.voice_name_bytes:
                reply.voices.add(name="v" * self.voice_name_bytes)
            return reply.SerializeToString()

        return grpc.unary_unary_rpc_method_handler(list_voices)


@pytest.fixture
def recorder() -> Iterator[tuple[_Recorder, grpc.Server]]:
    handler = _Recorder()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        options=[("grpc.max_send_message_length", 64 << 20)],
    )
    server.add_generic_rpc_handlers((handler,))
    yield handler, server
    server.stop(None)


def _list_voices(addr: str, environ: dict[str, str]) -> gw.ListVoicesResponse:
    with open_channel(addr, environ) as channel:
        return gateway_stub(channel).ListVoices(gw.ListVoicesRequest(), timeout=10)


def test_the_key_from_the_environment_is_sent_as_a_bearer_token(recorder) -> None:
    handler, server = recorder
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    reply = _list_voices(f"127.0.0.1:{port}", {"TTS_API_KEY": "k" * 24})
    assert reply.max_text_chars == 7
    assert handler.seen[-1]["authorization"] == "Bearer " + "k" * 24
    _list_voices(f"127.0.0.1:{port}", {})
    assert "authorization" not in handler.seen[-1]


def test_tls_from_the_environment(recorder, tmp_path) -> None:
    handler, server = recorder
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    key_pem = cert.private_key_pem.bytes()
    chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
    credentials = grpc.ssl_server_credentials([(key_pem, chain)])
    port = server.add_secure_port("localhost:0", credentials)
    server.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    env = {"TTS_TLS_CA_FILE": str(ca_file), "TTS_API_KEY": "s" * 20}
    assert _list_voices(f"localhost:{port}", env).max_text_chars == 7
    assert handler.seen[-1]["authorization"] == "Bearer " + "s" * 20
    with pytest.raises(grpc.RpcError) as plaintext:
        _list_voices(f"localhost:{port}", {})
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE


def test_replies_past_grpc_default_4_mib_are_received(recorder) -> None:
    """A long paragraph's unary reply is ~17 MB of PCM: the client must take it."""
    handler, server = recorder
    handler.voice_name_bytes = 20 << 20
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    reply = _list_voices(f"127.0.0.1:{port}", {})
    assert len(reply.voices[0].name) == 20 << 20
