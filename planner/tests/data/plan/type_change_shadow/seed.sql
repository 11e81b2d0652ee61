INSERT INTO "public"."org" ("id") SELECT gen_random_uuid() FROM generate_series(1, 5);
INSERT INTO "public"."product" ("id", "price_cents", "sku", "org_ref", "rating")
  SELECT gen_random_uuid(), g * 100, 'SKU-' || g, CASE WHEN g % 4 = 0 THEN NULL ELSE gen_random_uuid()::text END, (g % 5) + 0.25
  FROM generate_series(1, 40) g;
