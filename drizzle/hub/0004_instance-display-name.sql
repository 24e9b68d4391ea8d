ALTER TABLE `instances` ADD `display_name` text;--> statement-breakpoint
ALTER TABLE `instances` ADD `labels` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `instances` ADD `reinstated_at` integer;