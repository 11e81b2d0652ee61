INSERT INTO "public"."membership" ("org_id", "user_id")
SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, ('10000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid
FROM generate_series(1, 20) g;
INSERT INTO "public"."grant" ("id", "org_id", "user_id")
SELECT gen_random_uuid(), m."org_id", m."user_id" FROM "public"."membership" m;
