// A segflow client in Node, built from the repository's protos at run time with @grpc/proto-loader: no protoc,
// no generated code. It runs one visit (StartSession, PostEvent, GetOffers), checks health, and decodes a rich
// error (google.rpc.Status with ErrorInfo / BadRequest) with the protos shipped in protos/google/rpc.
// Usage: node client.js [host:port]   (prints one JSON object per step; exits 1 on any unexpected result)
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTOS] };

function load(files) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(files, LOADER_OPTIONS));
}

// google.rpc.Status and its details, for the grpc-status-details-bin trailer of a failed call.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (origin, target) => path.join(PROTOS, target);
rpcRoot.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
const Status = rpcRoot.lookupType("google.rpc.Status");

function richError(error) {
  const [bin] = error.metadata ? error.metadata.get("grpc-status-details-bin") : [];
  if (!bin) return { code: grpc.status[error.code], message: error.details, details: [] };
  const status = Status.decode(bin);
  const details = status.details.map((any) => {
    const type = rpcRoot.lookupType(any.type_url.slice(any.type_url.lastIndexOf("/") + 1));
    return { type: type.fullName.slice(1), ...type.toObject(type.decode(any.value)) };
  });
  return { code: grpc.status[status.code], message: status.message, details };
}

function call(client, method, request) {
  return new Promise((resolve, reject) => client[method](request, (error, response) => (error ? reject(error) : resolve(response))));
}

function string(value) {
  return { string_value: value };
}

async function main() {
  const target = process.argv[2] || "127.0.0.1:50051";
  const credentials = grpc.credentials.createInsecure();
  const segflow = load(["segflow/v1/decision_service.proto"]).segflow.v1;
  const health = load(["grpc/health/v1/health.proto"]).grpc.health.v1;
  const decisions = new segflow.DecisionService(target, credentials);
  const checker = new health.Health(target, credentials);
  const out = (step, value) => console.log(JSON.stringify({ step, ...value }));

  const serving = await call(checker, "Check", { service: "segflow.v1.DecisionService" });
  out("health", { status: serving.status });

  const sessionId = `node-${process.pid}`;
  const started = await call(decisions, "StartSession", { session_id: sessionId });
  out("start_session", { segments: started.session.segments, anonymous: started.session.anonymous,
    version: started.decision.ruleset_version });

  const posted = await call(decisions, "PostEvent", {
    session_id: sessionId,
    event: { name: "add_to_cart", parameters: { sku: string("TV-55"), price: { double_value: 700 } } },
  });
  out("post_event", { event_sequence: posted.event_sequence, entered: posted.segments_entered,
    actions: posted.actions.map((a) => a.type) });

  const offers = await call(decisions, "GetOffers", {
    session_id: sessionId, slots: [{ interaction_point: "checkout_upsell", count: 1 }],
  });
  out("get_offers", { offers: offers.offer_lists[0].offers.map((o) => ({ code: o.code, treatment_code: o.treatment_code })) });

  try {
    await call(decisions, "PostEvent", { session_id: "no-such-session", event: { name: "login" } });
    out("rich_error", { unexpected: "the call succeeded" });
    process.exitCode = 1;
  } catch (error) {
    out("rich_error", richError(error));
  }

  try {
    await call(decisions, "GetOffers", { session_id: sessionId, slots: [{ interaction_point: "nowhere", count: -1 }] });
    out("bad_request", { unexpected: "the call succeeded" });
    process.exitCode = 1;
  } catch (error) {
    out("bad_request", richError(error));
  }

  await call(decisions, "EndSession", { session_id: sessionId }).then((ended) => out("end_session", { state: ended.session.state }));
  decisions.close();
  checker.close();
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
