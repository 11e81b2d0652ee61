-- Statement shapes real applications send, against schema.graphql. The usage tests run
-- each one on PostgreSQL with pg_stat_statements, read back the normalised text the
-- extension stores, and check what Wesley finds in it against what PostgreSQL itself
-- says: with a column dropped, does the statement still prepare? Every statement ends
-- with `;` at the end of a line; `--` lines name the style it imitates.

-- Rails (ActiveRecord): find, where, includes, pluck, update_all, counters.
SELECT "account".* FROM "account" WHERE "account"."id" = 1 LIMIT 1;
SELECT "account".* FROM "account" WHERE "account"."email" = 'a@example.com' LIMIT 1;
SELECT "orders".* FROM "orders" WHERE "orders"."account_id" IN (1, 2, 3) ORDER BY "orders"."placed_at" DESC;
SELECT "order_item"."product_id" FROM "order_item" WHERE "order_item"."order_id" = 7;
UPDATE "account" SET "last_login_at" = '2024-01-01 10:00:00+00' WHERE "account"."id" = 1;
UPDATE "product" SET "stock" = COALESCE("stock", 0) - 1 WHERE "product"."id" = 3;
SELECT COUNT(*) FROM "review" WHERE "review"."product_id" = 3;
SELECT 1 AS one FROM "account" WHERE "account"."email" = 'x@example.com' LIMIT 1;
INSERT INTO "orders" ("id", "account_id", "status", "total_cents", "placed_at") VALUES (100, 1, 'new', 1500, '2024-02-01 12:00:00+00') RETURNING "id";
DELETE FROM "tag" WHERE "tag"."id" = 99;

-- Django ORM: select_related joins, annotations, exists, bulk updates.
SELECT "orders"."id", "orders"."account_id", "orders"."status", "orders"."total_cents", "orders"."placed_at", "account"."id", "account"."email", "account"."name" FROM "orders" INNER JOIN "account" ON ("orders"."account_id" = "account"."id") WHERE "orders"."status" = 'paid' ORDER BY "orders"."placed_at" DESC LIMIT 21;
SELECT "product"."id", "product"."title", AVG("review"."rating") AS "avg_rating" FROM "product" LEFT OUTER JOIN "review" ON ("product"."id" = "review"."product_id") GROUP BY "product"."id", "product"."title" HAVING AVG("review"."rating") >= 4.0;
SELECT (1) AS "a" FROM "review" WHERE ("review"."account_id" = 2 AND "review"."product_id" = 3) LIMIT 1;
UPDATE "product" SET "discontinued" = true WHERE "product"."stock" <= 0;
SELECT "account"."id", "account"."email" FROM "account" WHERE UPPER("account"."email"::text) LIKE UPPER('%EXAMPLE%');
SELECT DISTINCT ON ("review"."product_id") "review"."product_id", "review"."rating", "review"."created_at" FROM "review" ORDER BY "review"."product_id" ASC, "review"."created_at" DESC;

-- Hibernate 6: generated aliases, lower-case keywords, no quotes.
select o1_0.id,o1_0.account_id,o1_0.coupon_code,o1_0.note,o1_0.placed_at,o1_0.status,o1_0.total_cents from orders o1_0 where o1_0.id=5;
select a1_0.id,a1_0.name from account a1_0 join orders o1_0 on a1_0.id=o1_0.account_id where o1_0.total_cents>1000 order by a1_0.name fetch first 10 rows only;
update product set stock=stock-2 where id=4 and stock>=2;
insert into tag (name,note,id) values ('sale',null,10);

-- Prisma: schema-qualified, parenthesised conditions, offset.
SELECT "public"."product"."id", "public"."product"."sku", "public"."product"."title" FROM "public"."product" WHERE ("public"."product"."discontinued" = false AND "public"."product"."price_cents" < 5000) ORDER BY "public"."product"."id" ASC LIMIT 20 OFFSET 0;
SELECT COUNT(*) AS "_count._all" FROM (SELECT "public"."orders"."id" FROM "public"."orders" WHERE "public"."orders"."status" = 'new' OFFSET 0) AS "sub";

-- SQLAlchemy: anonymous parameters, aliased subqueries, RETURNING.
SELECT account.id AS account_id, account.email AS account_email FROM account WHERE account.id IN (SELECT orders.account_id FROM orders WHERE orders.total_cents > 10000);
INSERT INTO review (id, product_id, account_id, rating, body) VALUES (50, 1, 1, 5, 'great') RETURNING review.created_at;
SELECT anon_1.product_id, anon_1.total FROM (SELECT order_item.product_id AS product_id, sum(order_item.quantity) AS total FROM order_item GROUP BY order_item.product_id) AS anon_1 ORDER BY anon_1.total DESC LIMIT 5;

-- Ecto / GORM / sqlx by hand: upserts, RETURNING, keyset pagination, arrays.
INSERT INTO product (id, sku, title, price_cents) VALUES (20, 'SKU-20', 'Mug', 900) ON CONFLICT (sku) DO UPDATE SET title = EXCLUDED.title, price_cents = EXCLUDED.price_cents RETURNING id, stock;
INSERT INTO tag (id, name) VALUES (11, 'new') ON CONFLICT DO NOTHING;
INSERT INTO tag (id, name) VALUES (12, 'hot') ON CONFLICT ON CONSTRAINT tag_name_key DO NOTHING;
SELECT id, placed_at FROM orders WHERE (placed_at, id) < ('2024-03-01 00:00:00+00', 50) ORDER BY placed_at DESC, id DESC LIMIT 50;
SELECT id, title FROM product WHERE id = ANY('{1,2,3}'::bigint[]);
SELECT p.id, p.title FROM product p WHERE p.sku = ANY(ARRAY['SKU-1', 'SKU-2']);
UPDATE orders SET status = 'shipped' WHERE id = 5 RETURNING *;
DELETE FROM review WHERE account_id = 3 RETURNING id, rating;

-- UPDATE ... FROM, DELETE ... USING, INSERT ... SELECT.
UPDATE orders o SET total_cents = t.sum FROM (SELECT order_id, sum(quantity * unit_price_cents) AS sum FROM order_item GROUP BY order_id) t WHERE t.order_id = o.id;
UPDATE product SET stock = product.stock - oi.quantity FROM order_item oi WHERE oi.product_id = product.id AND oi.order_id = 7;
DELETE FROM order_item USING orders WHERE order_item.order_id = orders.id AND orders.status = 'cancelled';
INSERT INTO billing.invoice (id, order_id, amount_cents) SELECT o.id, o.id, o.total_cents FROM orders o WHERE o.status = 'paid' AND NOT EXISTS (SELECT 1 FROM billing.invoice i WHERE i.order_id = o.id);

-- CTEs, recursive and data-modifying.
WITH recent AS (SELECT account_id, max(placed_at) AS last FROM orders GROUP BY account_id) SELECT a.email, r.last FROM account a JOIN recent r ON r.account_id = a.id WHERE r.last > now() - interval '30 days';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i, (SELECT count(*) FROM tag WHERE tag.id = n.i) FROM n;
WITH moved AS (DELETE FROM orders WHERE status = 'cancelled' AND placed_at < now() - interval '1 year' RETURNING id, account_id) INSERT INTO "AuditLog" (id, actor, action, payload) SELECT id, 'system', 'purge', jsonb_build_object('account', account_id) FROM moved;
WITH totals AS (SELECT order_id, count(*) AS n FROM order_item GROUP BY order_id), big AS (SELECT order_id FROM totals WHERE n > 3) SELECT o.id, o.note FROM orders o WHERE o.id IN (SELECT order_id FROM big);

-- Window functions and analytics.
SELECT id, account_id, total_cents, rank() OVER (PARTITION BY account_id ORDER BY total_cents DESC) AS r FROM orders;
SELECT product_id, rating, avg(rating) OVER w AS moving FROM review WINDOW w AS (PARTITION BY product_id ORDER BY created_at ROWS BETWEEN 2 PRECEDING AND CURRENT ROW);
SELECT date_trunc('day', placed_at) AS day, count(*) FILTER (WHERE status = 'paid') AS paid, sum(total_cents) FROM orders GROUP BY 1 ORDER BY 1;
SELECT account_id, lag(placed_at) OVER (PARTITION BY account_id ORDER BY placed_at) AS previous FROM orders;
SELECT status, count(*) FROM orders GROUP BY ROLLUP (status);

-- JSON, full text, arrays, LATERAL, locking.
SELECT id, attrs->>'color' AS color FROM product WHERE attrs @> '{"size": "L"}';
SELECT id FROM product WHERE attrs ? 'color';
SELECT id FROM product WHERE to_tsvector('english', search_text) @@ plainto_tsquery('english', 'mug');
SELECT a.id, last.placed_at FROM account a CROSS JOIN LATERAL (SELECT o.placed_at FROM orders o WHERE o.account_id = a.id ORDER BY o.placed_at DESC LIMIT 1) last;
SELECT id, status FROM orders WHERE status = 'new' ORDER BY placed_at LIMIT 10 FOR UPDATE SKIP LOCKED;
SELECT id FROM product WHERE title ILIKE '%mug%' COLLATE "C" OR sku SIMILAR TO 'SKU-[0-9]+';
SELECT json_agg(json_build_object('id', t.id, 'name', t.name) ORDER BY t.name) FROM tag t;
SELECT array_agg(DISTINCT product_id) FROM order_item WHERE order_id = ANY(SELECT id FROM orders WHERE account_id = 1);
SELECT row_to_json(a) FROM account a WHERE a.id = 1;
SELECT t FROM tag t WHERE t.id = 1;

-- Case-sensitive and schema-qualified names.
INSERT INTO "AuditLog" ("id", "actor", "action", "payload", "HappenedAt") VALUES (1, 'alice', 'login', '{"ip": "10.0.0.1"}', now());
SELECT "actor", "HappenedAt" FROM "public"."AuditLog" WHERE "HappenedAt" > now() - interval '1 hour' ORDER BY "HappenedAt" DESC;
SELECT i.id, i.amount_cents, i.paid_at FROM billing.invoice i WHERE i.paid_at IS NULL AND i.issued_at < now() - interval '14 days';
UPDATE "billing"."invoice" SET "paid_at" = now() WHERE "id" = 3;

-- Statements with no table of the schema: health checks, settings, catalogs.
SELECT 1;
SELECT now();
SELECT current_setting('server_version_num');
SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace;
SET statement_timeout = 5000;
SHOW search_path;

-- Everything: SELECT *, INSERT without a column list, TABLE.
SELECT * FROM tag WHERE name = 'sale';
SELECT o.*, a.email FROM orders o JOIN account a ON a.id = o.account_id WHERE o.id = 5;
INSERT INTO tag VALUES (13, 'clearance', NULL);
TABLE tag;
SELECT * FROM (SELECT id, sku FROM product) p WHERE p.id > 3;

-- Joins with USING and NATURAL, set operations, EXISTS, CASE.
SELECT order_id, sum(quantity) FROM orders JOIN order_item ON order_item.order_id = orders.id WHERE orders.status = 'paid' GROUP BY order_id;
SELECT r.rating, p.title FROM review r JOIN product p ON p.id = r.product_id WHERE r.body IS NOT NULL;
SELECT email FROM account UNION SELECT actor FROM "AuditLog" ORDER BY 1;
SELECT id, CASE WHEN stock > 10 THEN 'plenty' WHEN stock > 0 THEN 'few' ELSE 'none' END AS availability FROM product;
SELECT a.id FROM account a WHERE EXISTS (SELECT 1 FROM orders o WHERE o.account_id = a.id AND o.coupon_code IS NOT NULL);
SELECT name FROM tag WHERE id NOT IN (SELECT product_id FROM order_item);
SELECT count(*) FROM orders LEFT JOIN billing.invoice inv ON inv.order_id = orders.id WHERE inv.id IS NULL;

-- Ambiguous-looking names that belong to one table only; output aliases in ORDER BY.
SELECT note FROM orders WHERE note IS NOT NULL;
SELECT t.note, o.note AS order_note FROM tag t, orders o WHERE t.id = o.id;
SELECT title AS label FROM product ORDER BY label;
SELECT created_at FROM review ORDER BY created_at DESC LIMIT 1;

-- Type casts that pg_stat_statements normalises in awkward places.
SELECT id FROM orders WHERE placed_at > timestamptz '2024-01-01 00:00:00+00';
SELECT id FROM orders WHERE placed_at > now() - interval '7 days' AND total_cents::numeric / 100 > 10.5;
SELECT extract(epoch FROM placed_at)::bigint FROM orders WHERE id = 1;
SELECT id FROM account WHERE created_at::date = date '2024-01-01';

-- MERGE (PostgreSQL 15 and later).
MERGE INTO product p USING (VALUES (3, 5)) AS v(id, delta) ON p.id = v.id WHEN MATCHED THEN UPDATE SET stock = p.stock + v.delta WHEN NOT MATCHED THEN DO NOTHING;

-- Framework and tool shapes: PostgREST, Hasura, PostGraphile, job queues.
WITH pgrst_source AS (SELECT "public"."tag".* FROM "public"."tag" WHERE "public"."tag"."name" = 'x') SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body, nullif(current_setting('response.headers', true), '') AS response_headers FROM (SELECT * FROM pgrst_source) _postgrest_t;
SELECT coalesce(json_agg("root"), '[]') AS "root" FROM (SELECT row_to_json((SELECT "_e" FROM (SELECT "_root.base"."id" AS "id", "_root.base"."title" AS "title") AS "_e")) AS "root" FROM (SELECT * FROM "public"."product" WHERE ('true') LIMIT 10) AS "_root.base") AS "_root";
select __product__."sku" as "0", __product__."id"::text as "1" from "public"."product" as __product__ where (__product__."id" = 1) order by __product__."id" asc;
UPDATE orders SET status = 'running' WHERE id = (SELECT id FROM orders WHERE status = 'new' ORDER BY placed_at FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, note;
SELECT pg_advisory_xact_lock(42);
SELECT pg_try_advisory_lock(hashtext('job:' || 7::text));

-- PostgreSQL-specific expressions.
SELECT id FROM product WHERE sku IS DISTINCT FROM 'SKU-1' AND price_cents BETWEEN SYMMETRIC 100 AND 10 ;
SELECT id, ARRAY(SELECT name FROM tag ORDER BY name) AS all_tags FROM product WHERE id = 1;
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total_cents) FROM orders;
SELECT status, account_id, count(*) FROM orders GROUP BY GROUPING SETS ((status), (account_id), ());
SELECT xmin, ctid, tableoid::regclass, id FROM tag WHERE id = 1;
SELECT substring(sku FROM 1 FOR 3), position('-' IN sku), trim(both ' ' FROM title) FROM product;
SELECT CAST(price_cents AS numeric) / 100, price_cents::int8 FROM product WHERE title ~* '^m' AND sku !~ 'X';
SELECT placed_at AT TIME ZONE 'UTC', current_date, localtimestamp FROM orders WHERE (placed_at, placed_at + interval '1 day') OVERLAPS (now(), now());
SELECT attrs #>> '{color}', attrs -> 'size', jsonb_path_query_first(attrs, '$.color') FROM product WHERE attrs IS NOT NULL;
SELECT id FROM product WHERE attrs ?| array['color', 'size'] AND attrs ?& array['color'];
SELECT u.ord, u.val FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY AS u(val, ord);
SELECT g FROM generate_series(1, 3) g WHERE g NOT IN (SELECT id FROM tag);
SELECT DISTINCT status FROM orders EXCEPT SELECT 'archived' INTERSECT ALL SELECT status FROM orders;
VALUES (1, 'one'), (2, 'two');
SELECT id FROM ONLY product WHERE stock > 0 LIMIT ALL;
SELECT id FROM product WHERE price_cents > ALL (SELECT unit_price_cents FROM order_item);
SELECT id FROM orders WHERE status = 'new' FOR NO KEY UPDATE OF orders NOWAIT;
SELECT title FROM product ORDER BY price_cents DESC NULLS LAST, title COLLATE "C" ASC;
UPDATE account SET (name, legacy_flags) = (SELECT 'Z', 0) WHERE id = 3;
UPDATE tag SET note = DEFAULT WHERE id = 1;
INSERT INTO "AuditLog" (id, actor, action) VALUES (2, 'bob', 'logout'), (3, 'carol', 'login');
SELECT count(*) OVER (), id FROM tag;
SELECT e.x FROM (VALUES (1), (2)) AS e(x) LEFT JOIN tag t ON t.id = e.x WHERE t.id IS NULL;
SELECT id, greatest(price_cents, 100), least(stock, 5), nullif(sku, '') FROM product;
SELECT id FROM account WHERE email LIKE 'a%' ESCAPE '!' AND name NOT ILIKE 'z%';
SELECT a.id, count(o.id) FROM account a LEFT JOIN orders o USING (id) GROUP BY a.id;
SELECT * FROM orders NATURAL JOIN order_item;

-- Sessions, transactions, poolers, maintenance.
BEGIN;
SAVEPOINT s1;
RELEASE SAVEPOINT s1;
COMMIT;
SET LOCAL lock_timeout = '1s';
RESET statement_timeout;
DISCARD ALL;
ANALYZE tag;
TRUNCATE tag;
EXPLAIN SELECT id FROM orders WHERE account_id = 1;

-- COPY with a column list.
COPY tag (id, name) TO STDOUT;
