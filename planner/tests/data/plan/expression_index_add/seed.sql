INSERT INTO "public"."account" ("id", "org_id", "email", "handle", "bio", "deleted_at")
  SELECT gen_random_uuid(), g % 3, 'User' || g || '@Example.com', 'h' || g,
    CASE WHEN g % 2 = 0 THEN 'likes ' || g END, CASE WHEN g % 5 = 0 THEN now() END
  FROM generate_series(1, 20) g;
