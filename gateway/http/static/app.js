// WebUI of the HTTP bridge: voices from /v1/voices, speech streamed from
// /v1/audio/speech as server-sent events (24 kHz 16-bit PCM deltas and each
// sentence's word timings) and played as it arrives (Web Audio), the words lit up
// as they are spoken, a WAV of the result to replay and download, and the cache
// dashboard.
"use strict";

const PCM_RATE = 24000;
const REFRESH_MS = 5000;
const HISTORY = 120;
const $ = (id) => document.getElementById(id);
// live: the PcmPlayer whose clock the highlight follows while streamed audio plays;
// null once it is done or the <audio> element has been played or moved.
const state = {
  voices: [], history: [], objectUrl: null, busy: false, player: null, live: null, words: [],
};
window.ttsState = { bytes: 0, chunks: 0, samples: 0, firstAudioMs: null, timings: [] };

// The API key (when the server wants one) lives in this browser's localStorage only
// and goes out as "Authorization: Bearer <key>" on every /v1 call.
const KEY_STORE = "ttsApiKey";
function authHeaders(extra = {}) {
  const key = localStorage.getItem(KEY_STORE) || "";
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function setStatus(kind, text) {
  const el = $("status");
  el.dataset.state = kind;
  el.textContent = text;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

async function loadVoices() {
  const response = await fetch("/v1/voices", { headers: authHeaders() });
  if (!response.ok) throw new Error(await errorMessage(response));
  const data = await response.json();
  state.voices = data.voices;
  const select = $("voice");
  select.replaceChildren(...data.voices.map((v) => {
    const option = new Option(`${v.name} (${v.sample_rate_hz / 1000} kHz)`, v.name);
    option.selected = v.name === data.default_voice;
    return option;
  }));
  $("speed").min = data.speed.min;
  $("speed").max = data.speed.max;
  if (data.pitch_semitones) {
    $("pitch").min = data.pitch_semitones.min;
    $("pitch").max = data.pitch_semitones.max;
  }
  fillEmotions();
}

function fillEmotions() {
  const voice = state.voices.find((v) => v.name === $("voice").value);
  const emotions = voice ? voice.emotions : [];
  $("emotion").replaceChildren(new Option("neutral", ""),
    ...emotions.filter((e) => e !== "neutral").map((e) => new Option(e, e)));
}

// Plays PCM chunks back to back; a chunk may end in the middle of a sample.
// Remembers where each chunk was scheduled, so position() tells where in the
// audio playback is, gaps (the network slower than playback) included.
class PcmPlayer {
  constructor() {
    this.ctx = new AudioContext({ sampleRate: PCM_RATE });
    this.next = 0;
    this.carry = null;
    this.queued = 0; // seconds of audio scheduled so far
    this.segments = []; // { at: context time, offset: audio time, duration }
  }
  position() {
    const now = this.ctx.currentTime;
    let found = null;
    for (const seg of this.segments) {
      if (seg.at > now) break;
      found = seg;
    }
    if (!found) return -1;
    return found.offset + Math.min(now - found.at, found.duration);
  }
  get ended() {
    return this.ctx.currentTime >= this.next;
  }
  push(bytes) {
    if (this.carry) {
      const joined = new Uint8Array(this.carry.length + bytes.length);
      joined.set(this.carry);
      joined.set(bytes, this.carry.length);
      bytes = joined;
      this.carry = null;
    }
    const whole = bytes.length - (bytes.length % 2);
    if (whole < bytes.length) this.carry = bytes.slice(whole);
    const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + whole));
    if (!samples.length) return samples;
    const buffer = this.ctx.createBuffer(1, samples.length, PCM_RATE);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.ctx.destination);
    this.next = Math.max(this.next, this.ctx.currentTime + 0.05);
    source.start(this.next);
    this.segments.push({ at: this.next, offset: this.queued, duration: buffer.duration });
    this.next += buffer.duration;
    this.queued += buffer.duration;
    return samples;
  }
}

function base64Bytes(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// Each event of a text/event-stream body ("data: {json}" blocks), as it arrives.
async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

// --- word timings: each sentence's words as spans, the one being spoken lit ---

// Renders a speech.timings event: the sentence's text with its words as spans
// (punctuation, which has no timing, as plain text between them).
function addSentence(timings) {
  const box = $("words");
  const text = timings.sentence.text;
  const words = timings.words.length ? timings.words : [timings.sentence];
  let cursor = 0;
  for (const w of words) {
    const at = text.indexOf(w.text, cursor);
    if (at > cursor) box.append(text.slice(cursor, at));
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = w.text;
    span.dataset.start = w.start_s;
    span.dataset.end = w.end_s;
    box.append(span);
    state.words.push({ span, start: w.start_s, end: w.end_s });
    if (at >= 0) cursor = at + w.text.length;
  }
  if (cursor < text.length) box.append(text.slice(cursor));
}

function clearWords() {
  $("words").replaceChildren();
  state.words = [];
}

// Lights the word whose [start, end) holds t (seconds into the audio), if any.
function highlightAt(t) {
  for (const w of state.words) {
    const on = t >= w.start && t < w.end;
    if (on !== w.span.classList.contains("spoken")) {
      w.span.classList.toggle("spoken", on);
      if (on) w.span.setAttribute("aria-current", "true");
      else w.span.removeAttribute("aria-current");
    }
  }
}

// Follows the streamed playback until it ends (or the <audio> element takes over).
function followLive(player) {
  state.live = player;
  const tick = () => {
    if (state.live !== player) return;
    highlightAt(player.position());
    if (state.busy || !player.ended) requestAnimationFrame(tick);
    else state.live = null;
  };
  requestAnimationFrame(tick);
}

// Follows the <audio> element: every frame while it plays, and where it is moved to.
function followElement() {
  const el = $("player");
  const tick = () => {
    highlightAt(el.currentTime);
    if (!el.paused && !el.ended) requestAnimationFrame(tick);
  };
  el.addEventListener("play", () => { state.live = null; requestAnimationFrame(tick); });
  el.addEventListener("seeked", () => { state.live = null; highlightAt(el.currentTime); });
  el.addEventListener("timeupdate", () => { if (!state.live) highlightAt(el.currentTime); });
}

function wavBlob(parts, rate) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const view = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + length * 2, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, length * 2, true);
  return new Blob([view, ...parts], { type: "audio/wav" });
}

async function speak() {
  if (state.busy) return;
  state.busy = true;
  $("speak").disabled = true;
  Object.assign(window.ttsState, { bytes: 0, chunks: 0, samples: 0, firstAudioMs: null, timings: [] });
  ["bytes", "chunks"].forEach((id) => { $(id).textContent = "0"; });
  $("first-ms").textContent = "–";
  clearWords();
  setStatus("streaming", "Synthesizing…");
  const started = performance.now();
  $("player").pause();
  if (state.player) state.player.ctx.close(); // one playback at a time
  try {
    const player = state.player = new PcmPlayer();
    followLive(player);
    const response = await fetch("/v1/audio/speech", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({
        model: "tts-1", input: $("text").value, voice: $("voice").value,
        emotion: $("emotion").value, speed: Number($("speed").value),
        pitch_semitones: Number($("pitch").value), no_cache: $("no-cache").checked,
        response_format: "pcm", stream_format: "sse", timings: true,
      }),
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const parts = [];
    for await (const event of sseEvents(response.body)) {
      if (event.type === "error") throw new Error(event.error.message);
      if (event.type === "speech.timings") {
        window.ttsState.timings.push(event);
        addSentence(event);
        continue;
      }
      if (event.type !== "speech.audio.delta") continue;
      const value = base64Bytes(event.audio);
      const samples = player.push(value);
      if (samples.length) parts.push(samples);
      const s = window.ttsState;
      if (s.firstAudioMs === null) {
        s.firstAudioMs = Math.round(performance.now() - started);
        $("first-ms").textContent = s.firstAudioMs;
        setStatus("streaming", "Playing while it streams…");
      }
      s.bytes += value.length; s.chunks += 1; s.samples += samples.length;
      $("bytes").textContent = s.bytes;
      $("chunks").textContent = s.chunks;
    }
    if (!parts.length) throw new Error("no audio received");
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = URL.createObjectURL(wavBlob(parts, PCM_RATE));
    $("player").src = state.objectUrl;
    $("download").href = state.objectUrl;
    $("download").classList.remove("hidden");
    const seconds = (window.ttsState.samples / PCM_RATE).toFixed(2);
    setStatus("done", `Done: ${seconds} s of audio`);
    refreshCache();
  } catch (err) {
    setStatus("error", `Error: ${err.message}`);
  } finally {
    state.busy = false;
    $("speak").disabled = false;
  }
}

function fmt(value, digits) {
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function drawPlot(canvas, values, max, label) {
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#5a6478";
  g.font = "11px sans-serif";
  g.fillText(label(max), 4, 12);
  if (values.length < 2) return;
  g.strokeStyle = "#2f6fde";
  g.lineWidth = 2;
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / (values.length - 1)) * (w - 8) + 4;
    const y = h - 6 - (max > 0 ? v / max : 0) * (h - 24);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
}

function renderTop(rows) {
  $("top").tBodies[0].replaceChildren(...rows.map((t) => {
    const tr = document.createElement("tr");
    const cells = [t.text_preview || t.key_hash.slice(0, 12) + "…", t.voice, t.requests, t.hits];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i > 1) td.className = "num";
      tr.append(td);
    });
    return tr;
  }));
}

async function refreshCache() {
  try {
    const response = await fetch("/v1/cache/report?top=10", { headers: authHeaders() });
    if (!response.ok) throw new Error(await errorMessage(response));
    const report = await response.json();
    const o = report.overall;
    $("stat-hits").textContent = o.hits;
    $("stat-misses").textContent = o.misses;
    $("stat-hit-rate").textContent = `${fmt(o.hit_rate * 100, 1)} %`;
    $("stat-audio").textContent = `${fmt(o.audio_from_cache_s, 1)} s`;
    $("stat-compute").textContent = `${fmt(o.compute_avoided_s, 2)} s`;
    // No currency: the gateway has no price table (GATEWAY_PRICE_TABLE).
    $("stat-money").textContent = o.currency ? `${fmt(o.money_saved, 4)} ${o.currency}` : "no price set";
    $("since").textContent = report.counting_since;
    renderTop(report.top_sentences);
    state.history.push({ hitRate: o.hit_rate, saved: o.compute_avoided_s });
    if (state.history.length > HISTORY) state.history.shift();
    drawPlot($("plot-hit-rate"), state.history.map((p) => p.hitRate), 1, () => "100 %");
    const saved = state.history.map((p) => p.saved);
    drawPlot($("plot-saved"), saved, Math.max(...saved, 1e-9), (m) => `${fmt(m, 2)} s`);
    document.body.dataset.cacheLoaded = "true";
  } catch (err) {
    $("since").textContent = `report unavailable (${err.message})`;
  }
}

async function refreshReady() {
  const pill = $("gateway-state");
  try {
    const response = await fetch("/readyz");
    pill.textContent = response.ok ? "gateway ready" : "gateway not ready";
    pill.className = `pill ${response.ok ? "ok" : "bad"}`;
  } catch (_) {
    pill.textContent = "bridge unreachable";
    pill.className = "pill bad";
  }
}

async function reloadVoices() {
  try {
    await loadVoices();
    $("speak").disabled = false;
    setStatus("idle", "Ready");
  } catch (err) {
    setStatus("error", `Could not load voices: ${err.message}`);
  }
}

async function init() {
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  $("api-key").addEventListener("change", () => {
    const key = $("api-key").value.trim();
    if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
    reloadVoices();
    refreshCache();
  });
  $("speak").addEventListener("click", speak);
  $("voice").addEventListener("change", fillEmotions);
  $("speed").addEventListener("input", () => {
    $("speed-value").textContent = `${Number($("speed").value).toFixed(2)}×`;
  });
  $("pitch").addEventListener("input", () => {
    const st = Number($("pitch").value);
    $("pitch-value").textContent = `${st > 0 ? "+" : ""}${st} semitones`;
  });
  followElement();
  refreshReady();
  refreshCache();
  setInterval(refreshCache, REFRESH_MS);
  setInterval(refreshReady, REFRESH_MS);
  await reloadVoices();
}

init();
