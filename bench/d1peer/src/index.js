// The RFC-007 design as written: a plain JS Worker whose routes talk to D1 directly, one
// prepared statement per request, no framework and no auth (the RFC names none). It is
// the peer bench/d1.py measures boothcloud's D1 backend against, on the same local D1.
//
//   POST /api/customers        create customer     INSERT ... RETURNING *
//   GET  /api/customers/:id    get customer        SELECT * WHERE id = ?
//   POST /api/payments         create payment      INSERT ... RETURNING *
//   GET  /api/payments/:id     get payment status  SELECT * WHERE id = ?
//   POST /api/photos           log photo           INSERT ... RETURNING *
//   GET  /api/printers         list printers       SELECT * WHERE customer_id = ?
//   POST /api/printers         register printer    INSERT ... RETURNING *

const HEADERS = { "content-type": "application/json; charset=utf-8" };

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: HEADERS });
}

async function one(statement) {
  const row = await statement.first();
  return row === null ? json({ error: "not found" }, 404) : json(row);
}

async function created(statement) {
  return json(await statement.first(), 201);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean); // ["api", "customers", id?]
    const db = env.DB;
    if (url.pathname === "/health") {
      return json({ ok: true });
    }
    try {
      if (parts[0] !== "api" || parts.length < 2 || parts.length > 3) {
        return json({ error: "not found" }, 404);
      }
      const [, resource, id] = parts;
      if (request.method === "GET" && id !== undefined) {
        if (resource === "customers") {
          return one(db.prepare("SELECT * FROM customers WHERE id = ?").bind(id));
        }
        if (resource === "payments") {
          return one(db.prepare("SELECT * FROM payments WHERE id = ?").bind(id));
        }
      }
      if (request.method === "GET" && resource === "printers" && id === undefined) {
        const customer = url.searchParams.get("customer_id");
        const { results } = await db
          .prepare("SELECT * FROM printers WHERE customer_id = ? ORDER BY created_at, id")
          .bind(customer)
          .all();
        return json(results);
      }
      if (request.method === "POST" && id === undefined) {
        const body = await request.json();
        const newId = body.id ?? crypto.randomUUID();
        if (resource === "customers") {
          return created(
            db
              .prepare(
                "INSERT INTO customers (id, name, email, phone, license_key, license_type, " +
                  "purchase_date) VALUES (?, ?, ?, ?, ?, ?, datetime('now')) RETURNING *",
              )
              .bind(newId, body.name, body.email, body.phone ?? null, body.license_key,
                body.license_type ?? "starter"),
          );
        }
        if (resource === "payments") {
          return created(
            db
              .prepare(
                "INSERT INTO payments (id, customer_id, amount, platform_fee) " +
                  "VALUES (?, ?, ?, ?) RETURNING *",
              )
              .bind(newId, body.customer_id, body.amount, body.platform_fee),
          );
        }
        if (resource === "photos") {
          return created(
            db
              .prepare(
                "INSERT INTO photos (id, customer_id, r2_key, printer_id) VALUES (?, ?, ?, ?) " +
                  "RETURNING *",
              )
              .bind(newId, body.customer_id, body.r2_key ?? `photos/${body.customer_id}/${newId}.jpg`,
                body.printer_id ?? null),
          );
        }
        if (resource === "printers") {
          return created(
            db
              .prepare(
                "INSERT INTO printers (id, customer_id, name, type, connection_type) " +
                  "VALUES (?, ?, ?, ?, ?) RETURNING *",
              )
              .bind(newId, body.customer_id, body.name, body.type, body.connection_type),
          );
        }
      }
      return json({ error: "not found" }, 404);
    } catch (e) {
      return json({ error: String(e?.message ?? e) }, 500);
    }
  },
};
