INSERT INTO "public"."league" VALUES (1, 'first');
INSERT INTO "public"."team" VALUES (1, NULL), (2, NULL);
INSERT INTO "public"."player" VALUES (10, 1), (11, 2);
UPDATE "public"."team" SET "captain_id" = 10 WHERE "id" = 1;
