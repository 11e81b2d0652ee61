INSERT INTO "public"."team" ("id", "name") SELECT gen_random_uuid(), 'team ' || g FROM generate_series(1, 5) g;
INSERT INTO "public"."member" ("id", "team_id", "email", "age")
  SELECT gen_random_uuid(), t.id, 'm' || g || '@example.com', 20 + g FROM generate_series(1, 20) g
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "public"."team") t ON t.n = 1 + g % 5;
