// Validates AsyncAPI documents with the official parser (@asyncapi/parser, the one the
// AsyncAPI CLI and Studio use): the 3.0 JSON Schema of the spec, every $ref, the payload
// schemas and the parser's spectral rules. Its 3.0 rules do not check message examples, so
// each example is then validated against its message's payload schema here (ajv, as the
// parser itself uses). One line per problem and one verdict per document; exit 1 if any
// document has an error or a warning, 0 when all are clean.
//
//   node devtools/asyncapi/validate.mjs [docs/asyncapi.yaml ...]   (after `make asyncapi`)
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { DiagnosticSeverity, Parser } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const parser = new Parser();
const paths = process.argv.length > 2 ? process.argv.slice(2) : ["docs/asyncapi.yaml"];
let invalid = 0;
for (const path of paths.map((p) => resolve(p))) {
  invalid += (await validate(path)) ? 0 : 1;
}
process.exit(invalid ? 1 : 0);

async function validate(path) {
  const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"),
    { source: path });
  // Information and hints are left out: one says 3.1.0 exists (this is 3.0 on purpose).
  const serious = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
  for (const d of serious) {
    const where = d.path.length ? d.path.join(".") : "(document)";
    console.log(`${["error", "warning"][d.severity]} ${d.code} at ${where}: ${d.message}`);
  }
  const problems = serious.length + (document === undefined ? 0 : invalidExamples(document));
  if (document === undefined || problems > 0) {
    console.log(`${path}: invalid (${problems} errors or warnings)`);
    return false;
  }
  console.log(`${path}: valid AsyncAPI ${document.version()} (${document.channels().length} ` +
    `channels, ${document.operations().length} operations, ` +
    `${document.components().messages().length} messages, their examples valid)`);
  return true;
}

function invalidExamples(document) {
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  let invalid = 0;
  for (const message of document.components().messages()) {
    if (!message.hasPayload()) continue;
    const check = ajv.compile(message.payload().json());
    for (const example of message.examples()) {
      if (check(example.payload())) continue;
      invalid += 1;
      const why = check.errors.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
      console.log(`error example ${example.name()} of message ${message.id()}: ${why}`);
    }
  }
  return invalid;
}
