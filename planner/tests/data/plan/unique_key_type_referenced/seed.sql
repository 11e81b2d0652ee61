INSERT INTO "public"."account" ("id", "number", "name") SELECT gen_random_uuid(), 1000 + g, 'account ' || g FROM generate_series(1, 40) g;
INSERT INTO "public"."device" ("id", "serial") SELECT gen_random_uuid(), CASE WHEN g % 4 = 0 THEN NULL ELSE gen_random_uuid()::text END FROM generate_series(1, 20) g;
INSERT INTO "public"."payment" ("id", "account_number", "device_serial", "amount")
  SELECT gen_random_uuid(), 1000 + g % 40 + 1, (SELECT serial FROM "public"."device" ORDER BY id OFFSET g % 20 LIMIT 1), g FROM generate_series(1, 80) g;
INSERT INTO "public"."transfer" ("id", "account_number") SELECT gen_random_uuid(), CASE WHEN g % 3 = 0 THEN NULL ELSE 1000 + g % 40 + 1 END FROM generate_series(1, 30) g;
