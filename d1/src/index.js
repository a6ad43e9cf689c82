// D1 bridge: boothcloud's `Database` interface over HTTP, for the D1 binding `DB`.
//
// Every route is `POST` with a JSON body and needs `Authorization: Bearer <BRIDGE_TOKEN>`
// (a Worker secret; compared in constant time). Values travel as JSON: null, numbers,
// strings, blobs as {"$blob": "<base64>"} and infinities as {"$float": "inf"|"-inf"}.
//
//   POST /query  {sql, params}            -> {rows, changes}            one statement
//   POST /batch  {statements: [{sql, params}]} -> {results: [{rows, changes}]}  atomic
//   POST /exec   {sql}                    -> {statements: n}   script, split, one atomic batch
//   POST /dump   {}                       -> NDJSON: schema, then each table's rows,
//                                            read in one batch (one consistent snapshot)
//   GET  /health                          -> {ok: true}  (no auth, no database access)
//   GET  /stats                           -> {calls}: authorized calls this isolate served
//                                            (benchmarks count round trips with it)
//
// Errors answer {"error": {"message", "kind"}}: 401 bad token, 400 bad request,
// 422 the database refused the SQL (message as SQLite words it, e.g.
// "UNIQUE constraint failed: customers.email"), 500 anything else.

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const MAX_BODY_BYTES = 8 * 1024 * 1024;
let calls = 0; // per isolate: exact on local workerd (one isolate), a sample on Cloudflare

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health" && request.method === "GET") {
      return json({ ok: true });
    }
    if (!env.BRIDGE_TOKEN) {
      return error(503, "config", "BRIDGE_TOKEN is not configured for this Worker");
    }
    if (!(await authorized(request, env.BRIDGE_TOKEN))) {
      return error(401, "auth", "missing or bad bearer token", {
        "www-authenticate": 'Bearer realm="d1-bridge"',
      });
    }
    if (url.pathname === "/stats" && request.method === "GET") {
      return json({ calls });
    }
    const route = ROUTES[url.pathname];
    calls++;
    if (!route) {
      return error(404, "not_found", `no route ${url.pathname}`);
    }
    if (request.method !== "POST") {
      return error(405, "method", "use POST", { allow: "POST" });
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > MAX_BODY_BYTES) {
      return error(413, "too_large", `body over ${MAX_BODY_BYTES} bytes`);
    }
    let body;
    try {
      body = await request.json();
    } catch {
      return error(400, "bad_request", "body is not JSON");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return error(400, "bad_request", "body must be a JSON object");
    }
    try {
      return await route(env.DB, body);
    } catch (e) {
      if (e instanceof BadRequest) {
        return error(400, "bad_request", e.message);
      }
      return databaseError(e);
    }
  },
};

const ROUTES = {
  "/query": async (db, body) => {
    const result = await prepare(db, body).all();
    return json(shapeResult(result));
  },
  "/batch": async (db, body) => {
    if (!Array.isArray(body.statements)) {
      throw new BadRequest("statements must be a list");
    }
    if (body.statements.length === 0) {
      return json({ results: [] });
    }
    const results = await db.batch(body.statements.map((s) => prepare(db, s)));
    return json({ results: results.map(shapeResult) });
  },
  "/exec": async (db, body) => {
    if (typeof body.sql !== "string") {
      throw new BadRequest("sql must be a string");
    }
    // Atomic, unlike D1's `exec()`: the script's statements run as one batch (one
    // transaction), split the way `wrangler d1 execute` splits a file.
    const statements = splitSqlQuery(body.sql);
    if (statements.length > 0) {
      await db.batch(statements.map((sql) => db.prepare(sql)));
    }
    return json({ statements: statements.length });
  },
  "/dump": async (db) => dump(db),
};

// --- auth -------------------------------------------------------------------------------

async function authorized(request, token) {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer (.+)$/i.exec(header);
  const given = match ? match[1] : "";
  // Hash both sides so the comparison is constant time whatever the lengths.
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(token)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b) && match !== null;
}

// --- values -----------------------------------------------------------------------------

class BadRequest extends Error {}

function prepare(db, statement) {
  if (statement === null || typeof statement !== "object" || typeof statement.sql !== "string") {
    throw new BadRequest("each statement needs sql (a string)");
  }
  const params = statement.params ?? [];
  if (!Array.isArray(params)) {
    throw new BadRequest("params must be a list");
  }
  // D1 would run every statement of "a; b" and answer the last; SQLite (and so the
  // embedded backend) refuses that, and so does the bridge. Only SQL with a `;` can hold
  // two (the splitter walks every character: too dear for every statement).
  if (statement.sql.includes(";") && splitSqlQuery(statement.sql).length > 1) {
    throw new BadRequest("You can only execute one statement at a time.");
  }
  const prepared = db.prepare(statement.sql);
  return params.length > 0 ? prepared.bind(...params.map(decodeValue)) : prepared;
}

function decodeValue(value) {
  if (value === null || typeof value === "number" || typeof value === "string") {
    return value;
  }
  if (typeof value === "boolean") {
    return value ? 1 : 0;
  }
  if (typeof value === "object" && typeof value.$blob === "string") {
    return base64ToBytes(value.$blob);
  }
  if (typeof value === "object" && (value.$float === "inf" || value.$float === "-inf")) {
    return value.$float === "inf" ? Infinity : -Infinity; // JSON has no infinities
  }
  throw new BadRequest(`unsupported parameter ${JSON.stringify(value)}`);
}

function encodeValue(value) {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return Number.isNaN(value) ? null : { $float: value > 0 ? "inf" : "-inf" };
  }
  if (value instanceof ArrayBuffer) {
    return { $blob: bytesToBase64(new Uint8Array(value)) };
  }
  if (ArrayBuffer.isView(value)) {
    return { $blob: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (Array.isArray(value)) {
    return { $blob: bytesToBase64(Uint8Array.from(value)) }; // D1 gives blobs as byte arrays
  }
  return value;
}

function encodeRow(row) {
  const out = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = encodeValue(value);
  }
  return out;
}

function shapeResult(result) {
  return {
    rows: (result.results ?? []).map(encodeRow),
    changes: result.meta?.changes ?? 0,
  };
}

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

// --- responses --------------------------------------------------------------------------

function json(value, status = 200, headers = {}) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function error(status, kind, message, headers = {}) {
  return json({ error: { kind, message } }, status, headers);
}

// D1 words errors as "D1_ERROR: UNIQUE constraint failed: customers.email: SQLITE_CONSTRAINT"
// (the cause may carry the same). Hand back SQLite's own words so the client names the
// constraint exactly as the embedded SQLite backend does.
function databaseError(e) {
  const raw = String(e?.cause?.message ?? e?.message ?? e);
  if (!/D1_|SQLITE_/.test(raw)) {
    console.error("d1 bridge: unexpected error", e);
    return error(500, "internal", raw);
  }
  const message = sqliteMessage(raw);
  const kind = / constraint failed/.test(message) ? "constraint" : "sql";
  return json({ error: { kind, message, raw } }, 422);
}

function sqliteMessage(raw) {
  let message = raw.trim();
  for (;;) {
    const stripped = message
      .replace(/^(D1_ERROR|D1_EXEC_ERROR|D1_TYPE_ERROR|D1_COLUMN_NOTFOUND|Error):\s*/, "")
      .replace(/^Error in line \d+:\s*/, "")
      .replace(/:\s*SQLITE_[A-Z_]+(\s*\(extended:\s*SQLITE_[A-Z_]+\))?$/, "")
      .trim();
    if (stripped === message) {
      return message;
    }
    message = stripped;
  }
}

// --- dump -------------------------------------------------------------------------------

const SCHEMA_SQL =
  "SELECT type, name, tbl_name, sql FROM sqlite_master " +
  "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' " +
  "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY rowid";
const SEQUENCE_SQL = "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'";

function quoteIdentifier(name) {
  return '"' + String(name).replaceAll('"', '""') + '"';
}

// One D1 batch is one transaction, so reading the schema and every table in one batch
// gives a consistent snapshot. The schema is read first to know the tables, then again
// inside the batch; if it changed in between, try again.
async function dump(db) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [schema, sequence] = await db.batch([db.prepare(SCHEMA_SQL), db.prepare(SEQUENCE_SQL)]);
    const tables = schema.results.filter((row) => row.type === "table").map((row) => row.name);
    const hasSequence = sequence.results.length > 0;
    const names = hasSequence ? [...tables, "sqlite_sequence"] : tables;
    const statements = [db.prepare(SCHEMA_SQL)];
    for (const name of names) {
      statements.push(db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").bind(name));
      statements.push(db.prepare(`SELECT * FROM ${quoteIdentifier(name)}`));
    }
    const results = await db.batch(statements);
    if (JSON.stringify(results[0].results) !== JSON.stringify(schema.results)) {
      continue; // the schema moved under us
    }
    return new Response(dumpLines(schema.results, names, results.slice(1), hasSequence), {
      headers: { "content-type": "application/x-ndjson; charset=utf-8" },
    });
  }
  throw new Error("the schema kept changing while dumping");
}

function dumpLines(schema, names, results, hasSequence) {
  const encoder = new TextEncoder();
  // A generator of NDJSON chunks: the schema, then per table its columns and rows (200
  // rows a chunk), then an end marker so the client can tell a complete dump.
  function* chunks() {
    yield JSON.stringify({ schema, sequence: hasSequence }) + "\n";
    for (let i = 0; i < names.length; i++) {
      const columns = results[2 * i].results.map((row) => row.name);
      const rows = results[2 * i + 1].results;
      yield JSON.stringify({ table: names[i], columns }) + "\n";
      for (let start = 0; start < rows.length; start += 200) {
        let chunk = "";
        for (const row of rows.slice(start, start + 200)) {
          chunk += JSON.stringify({ row: columns.map((c) => encodeValue(row[c])) }) + "\n";
        }
        yield chunk;
      }
    }
    yield JSON.stringify({ end: true }) + "\n";
  }
  const iterator = chunks();
  return new ReadableStream({
    pull(controller) {
      const next = iterator.next();
      if (next.done) {
        controller.close();
      } else {
        controller.enqueue(encoder.encode(next.value));
      }
    },
  });
}

// --- splitting a script -----------------------------------------------------------------
// Adapted from wrangler's src/d1/splitter.ts (MIT OR Apache-2.0), so `/exec` splits a
// script exactly as `wrangler d1 execute --file` and `wrangler d1 migrations apply` do.

export function splitSqlQuery(sql) {
  const statements = [];
  let str = "";
  const compoundStatementStack = [];
  const iterator = sql[Symbol.iterator]();
  let next = iterator.next();
  while (!next.done) {
    const char = next.value;
    if (compoundStatementStack[0]?.(str + char)) {
      compoundStatementStack.shift();
    }
    switch (char) {
      case `'`:
      case `"`:
      case "`":
        str += char + consumeUntilMarker(iterator, char);
        break;
      case `$`: {
        const dollarQuote = "$" + consumeWhile(iterator, isDollarQuoteIdentifier);
        str += dollarQuote;
        if (dollarQuote.endsWith("$")) {
          str += consumeUntilMarker(iterator, dollarQuote);
        }
        break;
      }
      case `-`:
        next = iterator.next();
        if (!next.done && next.value === "-") {
          consumeUntilMarker(iterator, "\n");
          str += "\n";
          break;
        } else {
          str += char;
          continue;
        }
      case `/`:
        next = iterator.next();
        if (!next.done && next.value === "*") {
          consumeUntilMarker(iterator, "*/");
          break;
        } else {
          str += char;
          continue;
        }
      case `;`:
        if (compoundStatementStack.length === 0) {
          statements.push(str);
          str = "";
        } else {
          str += char;
        }
        break;
      default:
        str += char;
        break;
    }
    if (isCompoundStatementStart(str)) {
      compoundStatementStack.unshift(isCompoundStatementEnd);
    }
    next = iterator.next();
  }
  statements.push(str);
  return statements.map((s) => s.trim()).filter((s) => s.length > 0);
}

function consumeWhile(iterator, predicate) {
  let next = iterator.next();
  let str = "";
  while (!next.done) {
    str += next.value;
    if (!predicate(str)) {
      break;
    }
    next = iterator.next();
  }
  return str;
}

function consumeUntilMarker(iterator, endMarker) {
  return consumeWhile(iterator, (str) => !str.endsWith(endMarker));
}

function isDollarQuoteIdentifier(str) {
  const lastChar = str.slice(-1);
  return lastChar !== "$" && (/[0-9_]/i.test(lastChar) || lastChar.toLowerCase() !== lastChar.toUpperCase());
}

function isCompoundStatementStart(str) {
  return /\s(BEGIN|CASE)\s$/i.test(str);
}

function isCompoundStatementEnd(str) {
  return /\sEND[;\s]$/.test(str);
}
