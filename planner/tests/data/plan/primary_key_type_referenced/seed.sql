INSERT INTO "public"."account" ("id", "name", "parent_id")
  SELECT g, 'account ' || g, CASE WHEN g > 1 THEN (g - 1) / 2 + 1 END FROM generate_series(1, 50) g;
INSERT INTO "public"."account" ("id", "name") VALUES (2147483647, 'the last int');
INSERT INTO "public"."membership" ("id", "account_id", "role")
  SELECT g, g % 50 + 1, CASE WHEN g % 3 = 0 THEN 'owner' ELSE 'member' END FROM generate_series(1, 120) g;
INSERT INTO "public"."audit_entry" ("id", "account_id", "what")
  SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 50 + 1 END, 'event ' || g FROM generate_series(1, 80) g;
SELECT setval('public.account_id_seq', 50);
