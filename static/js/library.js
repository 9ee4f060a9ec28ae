// Where strategy code comes from and goes to: the examples, saved strategies (with versions),
// uploads by button or drag-and-drop, and Save / Save as new.

import { api, listFrom } from "./api.js";

// The server enforces its own (configurable, smaller) limit; this only spares a pointless upload.
const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

/** The first `class Name(...)` in the code, used as a default name. */
export function className(code) {
  const match = /^class\s+(\w+)/m.exec(code || "");
  return match ? match[1] : "";
}

/** "SMA crossover" from an example titled "SMA crossover: long when ...". */
function shortTitle(example) {
  return (example.title || example.name).split(":")[0].trim();
}

export class StrategyLibrary {
  /**
   * `getCode()` reads the editor; `onLoad({code, params, source, isQuiet})` puts code in it;
   * `notify(message, kind)` reports to the user; `onSaved(previousKey, key)` follows a save.
   * Each source has a key: "example:<name>", "strategy:<id>" or "run:<id>" (its drafts').
   */
  constructor(root, { getCode, onLoad, notify, onSaved = () => {} }) {
    this.root = root;
    this.onSaved = onSaved;
    this.getCode = getCode;
    this.onLoad = onLoad;
    this.notify = notify;
    this.examples = new Map();
    this.current = { id: null, name: "", savedCode: null, version: null, key: null, sourceCode: null };
    this.picker = root.querySelector("#open-strategy");
    this.nameInput = root.querySelector("#strategy-name");
    this.versionLabel = root.querySelector("#strategy-version");
    this.versionPicker = root.querySelector("#strategy-versions");
    this.deleteButton = root.querySelector("#delete-strategy");
    this.versionPicker?.addEventListener("change", () => {
      if (this.current.id) this.openStrategy(this.current.id, Number(this.versionPicker.value));
    });
    this.deleteButton?.addEventListener("click", () => this.deleteCurrent());
    this.picker.addEventListener("change", () => this.openPicked());
    root.querySelector("#save-button").addEventListener("click", () => this.save(false));
    root.querySelector("#save-new-button").addEventListener("click", () => this.save(true));
    const fileInput = root.querySelector("#upload-input");
    fileInput.addEventListener("change", () => {
      if (fileInput.files.length) this.upload(fileInput.files[0]);
      fileInput.value = "";
    });
    this.setupDrop(root.querySelector("#editor-drop"));
  }

  async refresh() {
    const [examples, saved] = await Promise.allSettled([api.examples(), api.listStrategies()]);
    this.picker.replaceChildren(new Option("Open an example or a saved strategy…", ""));
    if (examples.status === "fulfilled") {
      const group = document.createElement("optgroup");
      group.label = "Examples";
      for (const example of listFrom(examples.value, "examples")) {
        this.examples.set(example.name, example);
        const option = new Option(shortTitle(example), `example:${example.name}`);
        option.title = example.title || example.name;
        group.append(option);
      }
      this.picker.append(group);
    } else {
      this.notify(`Couldn't load the examples: ${examples.reason.message}`, "error");
    }
    if (saved.status === "fulfilled") {
      const group = document.createElement("optgroup");
      group.label = "Saved strategies";
      for (const strategy of listFrom(saved.value, "strategies")) {
        const version = strategy.current_version ?? strategy.version;
        group.append(new Option(`${strategy.name}${version ? ` (v${version})` : ""}`, `strategy:${strategy.id}`));
      }
      this.picker.append(group);
    } else {
      this.notify(`Couldn't load the saved strategies: ${saved.reason.message}`, "error");
    }
    this.picker.value = "";
  }

  async openPicked() {
    const [kind, key] = this.picker.value.split(/:(.*)/s);
    this.picker.value = "";
    if (kind === "example") this.openExample(key);
    else if (kind === "strategy") await this.openStrategy(key);
  }

  openExample(name, { isQuiet = false } = {}) {
    const example = this.examples.get(name);
    if (!example) return;
    const key = `example:${example.name}`;
    this.setCurrent({ id: null, name: shortTitle(example), savedCode: null, version: null, key, sourceCode: example.code });
    this.onLoad({
      code: example.code, params: example.params, source: `example ${example.name}`, isQuiet, key,
      settings: example.settings,
    });
  }

  /** True when example `name` is known (the examples are loaded). */
  hasExample(name) {
    return this.examples.has(name);
  }

  /** Opens a starting point in an empty editor: the SMA crossover example, or the first one. */
  openStarter() {
    const name = this.examples.has("sma_crossover") ? "sma_crossover" : this.examples.keys().next().value;
    if (name) this.openExample(name, { isQuiet: true });
  }

  /** Puts a run's own code in the editor (to see the line it failed at). */
  openRunCode(run) {
    const key = `run:${run.id}`;
    this.setCurrent({ id: null, name: run.strategy_name || "", savedCode: null, version: null, key, sourceCode: run.code });
    this.onLoad({ code: run.code, params: run.params, source: `the code of run ${run.id.slice(0, 8)}`, key });
  }

  /** Opens saved strategy `id`: its current version, or `version` (an older one). */
  async openStrategy(id, version = null) {
    try {
      const strategy = await api.getStrategy(id, version);
      this.useSaved(strategy);
    } catch (error) {
      this.notify(`Couldn't open strategy ${id}: ${error.message}`, "error");
    }
  }

  /** Puts a strategy record from the API (get, save or upload) in the editor. */
  useSaved(strategy) {
    const code = strategy.code ?? strategy.current?.code ?? "";
    const key = `strategy:${strategy.id}`;
    this.setCurrent({
      id: strategy.id,
      name: strategy.name,
      savedCode: code,
      version: strategy.current_version ?? strategy.version ?? null,
      key,
      sourceCode: code,
      versions: strategy.versions || [],
    });
    this.onLoad({ code, params: strategy.params, source: `strategy ${strategy.name}`, key });
  }

  setCurrent(current) {
    this.current = current;
    this.nameInput.value = current.name || "";
    this.showState(current.savedCode);
    this.showVersions(current.id ? current.versions || [] : [], current.version);
  }

  /** The version picker (every saved version, newest first) and Delete, for a saved strategy. */
  showVersions(versions, shown) {
    if (!this.versionPicker || !this.deleteButton) return;
    this.deleteButton.hidden = !this.current.id;
    this.versionPicker.hidden = versions.length < 2;
    this.versionPicker.replaceChildren(
      ...[...versions].reverse().map((v) => new Option(`version ${v.version}`, String(v.version))),
    );
    if (shown) this.versionPicker.value = String(shown);
  }

  async deleteCurrent() {
    const { id, name } = this.current;
    if (!id) return;
    if (!window.confirm(`Delete the saved strategy “${name}” and all its versions? Its runs stay.`)) return;
    try {
      await api.deleteStrategy(id);
    } catch (error) {
      this.notify(`Couldn't delete “${name}”: ${error.message}`, "error");
      return;
    }
    this.notify(`Deleted the saved strategy “${name}”.`);
    await this.refresh();
    this.openStarter();
  }

  /** Says whether the editor holds the saved version; call it with the editor's code. */
  showState(code) {
    const { id, version, savedCode } = this.current;
    if (!id) {
      this.versionLabel.textContent = "not saved";
      return;
    }
    const saved = `saved as #${id}${version ? `, version ${version}` : ""}`;
    this.versionLabel.textContent = code === savedCode ? saved : `${saved} (modified)`;
  }

  /** True when the editor holds exactly the saved version (so runs can cite it). */
  isClean() {
    return this.current.id !== null && this.current.savedCode === this.getCode();
  }

  async save(asNew) {
    const code = this.getCode();
    const name = this.nameInput.value.trim() || className(code) || "Untitled strategy";
    try {
      const saved =
        this.current.id && !asNew
          ? await api.updateStrategy(this.current.id, { name, code })
          : await api.createStrategy({ name, code });
      const record = saved.code === undefined ? { ...saved, code } : saved;
      const previousKey = this.current.key;
      this.setCurrent({
        id: record.id,
        name: record.name ?? name,
        savedCode: record.code,
        version: record.current_version ?? record.version ?? null,
        key: `strategy:${record.id}`,
        sourceCode: record.code,
        versions: record.versions || [],
      });
      this.onSaved(previousKey, this.current.key);
      this.notify(`Saved “${this.current.name}”${this.current.version ? ` as version ${this.current.version}` : ""}.`);
      await this.refresh();
    } catch (error) {
      this.notify(`Couldn't save: ${error.message}`, "error");
    }
  }

  async upload(file) {
    if (!file.name.endsWith(".py")) {
      this.notify(`“${file.name}” isn't a .py file; upload a Python strategy file.`, "error");
      return;
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      this.notify(`“${file.name}” is larger than 16 MB; a strategy file should be much smaller.`, "error");
      return;
    }
    try {
      const uploaded = await api.uploadStrategy(file);
      const record = uploaded.strategy ?? uploaded;
      const full = record.code === undefined && record.id !== undefined ? await api.getStrategy(record.id) : record;
      this.useSaved(full);
      this.notify(`Uploaded “${file.name}” as strategy “${full.name}”.`);
      await this.refresh();
    } catch (error) {
      this.notify(`Couldn't upload “${file.name}”: ${error.message}`, "error");
    }
  }

  /** Dropping a .py file anywhere on the editor uploads it. */
  setupDrop(zone) {
    const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    const stop = (event) => {
      event.preventDefault();
      event.stopPropagation();
    };
    zone.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      stop(event);
      zone.classList.add("dragging");
    }, true);
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      stop(event);
      event.dataTransfer.dropEffect = "copy";
    }, true);
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
    }, true);
    zone.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      stop(event);
      zone.classList.remove("dragging");
      const [file] = event.dataTransfer.files;
      if (file) this.upload(file);
    }, true);
  }
}
