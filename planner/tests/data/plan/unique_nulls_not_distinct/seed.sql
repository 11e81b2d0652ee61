INSERT INTO "public"."device" ("id", "tenant_id", "serial", "tag")
  SELECT gen_random_uuid(), CASE WHEN g % 2 = 0 THEN gen_random_uuid() END, 's' || g,
    CASE WHEN g = 1 THEN NULL ELSE 't' || g END
  FROM generate_series(1, 20) g;
