// voicebot's page: microphone -> 20 ms int16 PCM over a WebSocket; reply audio scheduled on the
// AudioContext's clock so chunks play back to back; the protocol is in voicebot/serve/app.py.
"use strict";
const $ = (id) => document.getElementById(id);
let ctx, ws, stream, node, outRate = 16000;
let pending = new Float32Array(0);
let playHead = 0;      // AudioContext time where the next reply chunk starts
let segments = [];     // scheduled chunks: {src, buf, start, dur, told}; told = seconds reported as played
let held = null;       // while paused for caller voice: [{buf, from}] to play on resume
let audioBytes = 0, turn = null;

function status(text) { $("status").textContent = text; }

function line(cls, text, attrs) {
  if (!turn || cls === "caller") {
    turn = document.createElement("div");
    turn.className = "turn";
    $("log").prepend(turn);
  }
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) div.dataset[k] = v;
  turn.append(div);
}

async function start() {
  $("start").disabled = true;
  try {
    ctx = new AudioContext({ sampleRate: 16000 });  // the browser resamples the microphone to it
    await ctx.resume();
    const opt = (id) => $(id).checked;
    stream = await navigator.mediaDevices.getUserMedia({ audio: {
      channelCount: 1, echoCancellation: opt("echoCancellation"),
      noiseSuppression: opt("noiseSuppression"), autoGainControl: opt("autoGainControl") } });
    await ctx.audioWorklet.addModule("capture.js");
  } catch (e) {
    status("microphone: " + e.message);
    return stopAudio();
  }
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    // the login form's session cookie goes with the upgrade: no key in the page or the URL
    ws.send(JSON.stringify({ type: "hello", sample_rate: ctx.sampleRate, greet: $("greet").checked }));
    status("connecting");
  };
  ws.onmessage = (m) => (typeof m.data === "string" ? onEvent(JSON.parse(m.data)) : play(m.data));
  ws.onclose = (e) => {
    status(e.code === 1008 ? "refused: log in again"
           : "ended" + (e.reason ? ": " + e.reason : "") + " (" + e.code + ")");
    stopAudio();
  };
  node = new AudioWorkletNode(ctx, "capture");
  node.port.onmessage = (m) => capture(m.data);
  ctx.createMediaStreamSource(stream).connect(node);
  node.connect(ctx.destination);  // silent (the worklet writes no output); keeps it running
  $("stop").disabled = false;
}

function capture(block) {
  if (!ctx) return;  // a block the worklet sent just before Stop closed the audio
  const joined = new Float32Array(pending.length + block.length);
  joined.set(pending);
  joined.set(block, pending.length);
  pending = joined;
  const n = Math.round(ctx.sampleRate * 0.02);
  while (pending.length >= n) {
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.max(-1, Math.min(1, pending[i])) * 32767;
    pending = pending.slice(n);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(pcm.buffer);
  }
  reportPlayed();
}

function play(data) {
  audioBytes += data.byteLength;
  $("audio-bytes").textContent = audioBytes;
  if (!ctx || ctx.state === "closed") return;
  const pcm = new Int16Array(data);
  const buf = ctx.createBuffer(1, pcm.length, outRate);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
  if (held) { held.push({ buf, from: 0 }); return; }
  schedule(buf, 0);
}

function schedule(buf, from) {
  const src = ctx.createBufferSource();
  src.buffer = buf;
  src.connect(ctx.destination);
  const at = Math.max(playHead, ctx.currentTime + 0.03);  // a small lead so the first chunk starts clean
  src.start(at, from);
  playHead = at + buf.duration - from;
  // start is where the chunk's beginning would have been: played = now - start counts `from` as told
  segments.push({ src, buf, start: at - from, dur: buf.duration, told: from });
}

// Caller voice over the reply: pause now and keep what is left; a resume plays it from there.
function hold(on) {
  if (on && !held) {
    reportPlayed();
    const now = ctx.currentTime;
    held = [];
    for (const s of segments) {
      try { s.src.stop(); } catch (e) { /* not started yet */ }
      const from = Math.min(s.dur, Math.max(0, now - s.start));
      if (from < s.dur) held.push({ buf: s.buf, from });
    }
    segments = [];
    playHead = 0;
  } else if (!on && held) {
    const rest = held;
    held = null;
    for (const h of rest) schedule(h.buf, h.from);
  }
}

// Tell the server how much reply audio has started playing: the echo canceller lines it up with
// the microphone, and a barge-in knows what the caller heard.
function reportPlayed() {
  if (!ctx) return;
  const now = ctx.currentTime;
  let seconds = 0;
  for (const s of segments) {
    const done = Math.max(s.told, Math.min(s.dur, now - s.start));  // a resumed chunk starts at its `from`
    seconds += done - s.told;
    s.told = done;
  }
  segments = segments.filter((s) => s.told < s.dur);
  if (seconds > 0 && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "played", seconds }));
}

function stopPlayback() {
  for (const s of segments) { try { s.src.stop(); } catch (e) { /* not started yet */ } }
  segments = [];
  held = null;
  playHead = 0;
}

function onEvent(ev) {
  switch (ev.type) {
    case "ready": outRate = ev.sample_rate; status("listening: talk now"); break;
    case "transcript": line("caller", ev.text); break;
    case "nlu": {
      const ents = ev.entities.map((e) => e.type + "=" + e.value).join(", ");
      line("nlu", `${ev.intent} (${ev.confidence.toFixed(2)}), ${ev.sentiment}${ents ? ", " + ents : ""}`,
           { intent: ev.intent, sentiment: ev.sentiment });
      break;
    }
    case "reply": line("bot", ev.text); if (ev.end_call) status("the bot ended the call"); break;
    case "latency":
      line("latency", `first audio ${Math.round(ev.total)} ms after you stopped (endpoint ${ev.endpoint}, ` +
           `asr ${ev.asr}, nlu ${ev.nlu}, dialogue ${ev.dialogue}, tts ${ev.tts_first_audio})`,
           { total: ev.total });
      break;
    case "hold": hold(ev.on); break;
    case "interrupted": stopPlayback(); line("note", `(interrupted after ${ev.heard_s.toFixed(1)} s)`); break;
    case "error": line("error", ev.message); break;
  }
}

function stopAudio() {
  stopPlayback();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (ctx && ctx.state !== "closed") ctx.close();
  stream = ctx = node = null;
  pending = new Float32Array(0);
  $("start").disabled = false;
  $("stop").disabled = true;
}

function stop() {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "bye" }));
  if (ws) ws.close();
  stopAudio();
  status("stopped");
}

$("start").onclick = start;
$("stop").onclick = stop;
