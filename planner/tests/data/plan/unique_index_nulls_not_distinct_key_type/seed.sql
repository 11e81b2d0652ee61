INSERT INTO "public"."device" ("id", "serial") SELECT gen_random_uuid(), CASE WHEN g = 20 THEN NULL ELSE gen_random_uuid()::text END FROM generate_series(1, 20) g;
INSERT INTO "public"."payment" ("id", "device_serial")
  SELECT gen_random_uuid(), (SELECT serial FROM "public"."device" ORDER BY id OFFSET g % 20 LIMIT 1) FROM generate_series(1, 40) g;
