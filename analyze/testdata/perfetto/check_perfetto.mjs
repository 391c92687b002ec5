// Decodes a Perfetto trace with protobufjs and the schema given (written from
// Perfetto's protos) and prints what trace_processor would import: slices
// (begin/end matched per track after a stable sort by time), instants,
// counters, events with a callstack. Any broken reference is an error.
// Usage: node check_perfetto.mjs SCHEMA.proto TRACE
import protobuf from "protobufjs";
import { readFileSync } from "node:fs";

const [schema, tracePath] = process.argv.slice(2);
const root = protobuf.loadSync(schema);
const Trace = root.lookupType("kpcapcheck.Trace");
const msg = Trace.decode(readFileSync(tracePath));
const trace = Trace.toObject(msg, { longs: String, enums: Number, bytes: String, defaults: false });

const errors = [];
const eventNames = new Map(), annotNames = new Map(), funcNames = new Map(), frames = new Map(), stacks = new Map();
const tracks = new Map();
const events = [];
let clock = 0, primary = 0;
trace.packet.forEach((p, i) => {
  if (i === 0 && !((p.sequenceFlags ?? 0) & 1)) errors.push("first packet does not clear incremental state");
  if (p.trustedPacketSequenceId !== 1) errors.push(`packet ${i}: sequence id ${p.trustedPacketSequenceId}`);
  if (p.tracePacketDefaults) clock = p.tracePacketDefaults.timestampClockId;
  if (p.clockSnapshot) primary = p.clockSnapshot.primaryTraceClock;
  const id = p.internedData;
  if (id) {
    for (const e of id.eventNames ?? []) eventNames.set(e.iid, e.name);
    for (const e of id.debugAnnotationNames ?? []) annotNames.set(e.iid, e.name);
    for (const e of id.functionNames ?? []) funcNames.set(e.iid, Buffer.from(e.str, "base64").toString());
    for (const e of id.frames ?? []) {
      if (!funcNames.has(e.functionNameId)) errors.push(`frame ${e.iid}: no function name ${e.functionNameId}`);
      frames.set(e.iid, e.functionNameId);
    }
    for (const e of id.callstacks ?? []) {
      for (const f of e.frameIds ?? []) if (!frames.has(f)) errors.push(`callstack ${e.iid}: no frame ${f}`);
      stacks.set(e.iid, e.frameIds ?? []);
    }
  }
  if (p.trackDescriptor) {
    const t = p.trackDescriptor;
    if (t.parentUuid && !tracks.has(t.parentUuid)) errors.push(`track ${t.uuid}: undeclared parent`);
    tracks.set(t.uuid, t);
  }
  const ev = p.trackEvent;
  if (ev) {
    if (!((p.sequenceFlags ?? 0) & 2)) errors.push(`packet ${i}: event without SEQ_NEEDS_INCREMENTAL_STATE`);
    if (!tracks.has(ev.trackUuid)) errors.push(`packet ${i}: undeclared track ${ev.trackUuid}`);
    let name = ev.name;
    if (ev.nameIid !== undefined) {
      name = eventNames.get(ev.nameIid);
      if (name === undefined) errors.push(`packet ${i}: name iid ${ev.nameIid} not interned`);
    }
    const args = {};
    const walk = (prefix, a) => {
      const n = a.nameIid !== undefined ? annotNames.get(a.nameIid) : a.name;
      if (n === undefined) errors.push(`packet ${i}: annotation name iid ${a.nameIid} not interned`);
      if (a.dictEntries?.length) a.dictEntries.forEach((d) => walk(prefix + n + ".", d));
      else args[prefix + n] = a.stringValue ?? a.uintValue ?? a.intValue ?? a.boolValue;
    };
    (ev.debugAnnotations ?? []).forEach((a) => walk("", a));
    if (ev.callstackIid !== undefined && !stacks.has(ev.callstackIid)) errors.push(`packet ${i}: callstack ${ev.callstackIid} not interned`);
    events.push({ i, ts: BigInt(p.timestamp), type: ev.type, track: ev.trackUuid, name, args, stack: ev.callstackIid !== undefined, value: ev.counterValue });
  }
});

events.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.i - b.i));
const open = new Map();
const out = { packets: trace.packet.length, clock, primary, slices: {}, cpu_slices: 0, instants: 0, unmatched: 0, counters: 0, stacks: 0, max_depth: 0, errors };
for (const e of events) {
  if (e.stack) out.stacks++;
  const cpuTrack = (tracks.get(e.track)?.name ?? "").endsWith("(sched_switch)");
  const st = open.get(e.track) ?? [];
  open.set(e.track, st);
  switch (e.type) {
    case 1:
      st.push(e);
      out.max_depth = Math.max(out.max_depth, st.length - 1);
      break;
    case 2: {
      const b = st.pop();
      if (!b) { errors.push(`end at ${e.ts} without a begin`); break; }
      if (cpuTrack) out.cpu_slices++;
      else out.slices[b.name] = (out.slices[b.name] ?? 0) + 1;
      break;
    }
    case 3:
      out.instants++;
      if (e.args.unmatched === true) out.unmatched++;
      break;
    case 4:
      out.counters++;
      break;
    default:
      errors.push(`event type ${e.type}`);
  }
}
for (const [t, st] of open) if (st.length) errors.push(`track ${t}: ${st.length} slices never end`);
console.log(JSON.stringify(out));
