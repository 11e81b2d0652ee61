INSERT INTO "public"."tag" ("label") SELECT 'tag ' || g FROM generate_series(1, 30) g;
INSERT INTO "public"."post_tag" ("id", "tag_id") SELECT g, g % 30 + 1 FROM generate_series(1, 90) g;
INSERT INTO "public"."document" ("id", "title") SELECT gen_random_uuid()::text, 'doc ' || g FROM generate_series(1, 25) g;
INSERT INTO "public"."attachment" ("id", "document_id")
  SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE (SELECT id FROM "public"."document" ORDER BY title OFFSET g % 25 LIMIT 1) END FROM generate_series(1, 60) g;
