INSERT INTO "public"."team" ("id", "slug") SELECT gen_random_uuid(), 'team-' || g FROM generate_series(1, 20) g;
INSERT INTO "public"."member" ("id", "team_id", "role", "age", "joined")
  SELECT gen_random_uuid(), t.id, 'role' || g, 18 + g, g FROM generate_series(1, 20) g
  JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "public"."team") t ON t.n = g;
