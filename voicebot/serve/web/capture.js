// AudioWorklet: hands the microphone's 128-frame blocks to the page, which batches them.
class Capture extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage(ch.slice(0));  // the engine reuses its buffer: copy it
    return true;
  }
}
registerProcessor("capture", Capture);
