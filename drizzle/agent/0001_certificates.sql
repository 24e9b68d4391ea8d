CREATE TABLE `ca_account_keys` (
	`ca_account_id` text NOT NULL,
	`directory_url` text NOT NULL,
	`account_url` text,
	`key_jwk` text,
	`status` text NOT NULL,
	`message` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`ca_account_id`, `directory_url`)
);
--> statement-breakpoint
CREATE TABLE `external_scan` (
	`id` integer PRIMARY KEY NOT NULL,
	`certificates` text NOT NULL,
	`managers` text NOT NULL,
	`scanned_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `instance_config` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`config` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `certificates` ADD `spec` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `revision` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ordered_key` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `next_renewal_at` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `renewal_reason` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `failure_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `certificates` ADD `attempts` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `certificates` ADD `deployments` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `certificates` ADD `served` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `current_dir` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `previous_dir` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ari_cert_id` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ari_window` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `ari_fetch_at` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `force_order` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `certificates` ADD `order_started_at` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `deploy_pending` integer DEFAULT false NOT NULL;