// "Save into the kernel's working folder": the kernel writes the output beside the notebook
// with PortDataReference.download(local_path=...) and answers with the path it wrote (relative
// to its working folder). What a JupyterHub user wants: the file lands where the notebook is,
// not on the laptop. Only answers to requests of this instance are taken.

let counter = 0;
const newId = () => `srw-save-${(counter += 1)}-${Math.random().toString(36).slice(2, 8)}`;

// Per output name: { name, status: "saving" | "done" | "error", path, bytes, error }.
export class KernelSaves {
  constructor({ send, onChange = () => {} }) {
    this.send = send;
    this.onChange = onChange;
    this.requests = new Map();
    this.byName = new Map();
  }

  state(name) {
    return this.byName.get(name) ?? null;
  }

  busy(name) {
    return this.byName.get(name)?.status === "saving";
  }

  // `path`: a folder relative to the kernel's working folder ("" = that folder itself).
  start(name, path = "") {
    if (this.busy(name)) return null;
    const id = newId();
    const req = { id, name, status: "saving", path: "", bytes: null, error: "" };
    this.requests.set(id, req);
    this.byName.set(name, req);
    this.send({ type: "save_local", output: name, request_id: id, path });
    this.onChange(name);
    return id;
  }

  // Returns true when the message answered a request of this instance.
  handle(msg) {
    const req = this.requests.get(msg?.request_id);
    if (!req) return false;
    if (msg.type === "save_local_done") {
      req.status = "done";
      req.path = typeof msg.path === "string" ? msg.path : "";
      req.bytes = Number.isInteger(msg.bytes) && msg.bytes >= 0 ? msg.bytes : null;
    } else if (msg.type === "save_local_error") {
      req.status = "error";
      req.error = typeof msg.message === "string" && msg.message ? msg.message : "Saving failed";
    } else {
      return false;
    }
    this.requests.delete(req.id);
    this.onChange(req.name);
    return true;
  }
}
