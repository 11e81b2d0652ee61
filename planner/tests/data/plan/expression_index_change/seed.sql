INSERT INTO "public"."account" ("id", "org_id", "email", "handle")
  SELECT gen_random_uuid(), g % 3, 'user' || g || '@example.com', 'H' || g
  FROM generate_series(1, 20) g;
