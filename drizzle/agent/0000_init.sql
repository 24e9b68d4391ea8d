CREATE TABLE `certificates` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`domains` text NOT NULL,
	`source` text NOT NULL,
	`status` text NOT NULL,
	`not_before` integer,
	`not_after` integer,
	`serial` text,
	`issuer` text,
	`last_error` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`source` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `hub_link` (
	`id` integer PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`client_id` text NOT NULL,
	`fingerprint` text,
	`pinned_cert_pem` text,
	`instance_id` text NOT NULL,
	`public_key` text NOT NULL,
	`private_key` text NOT NULL,
	`group_name` text,
	`state` text DEFAULT 'joined' NOT NULL,
	`identity_conflict` integer DEFAULT false NOT NULL,
	`sync_interval_seconds` integer DEFAULT 60 NOT NULL,
	`settings_version` integer DEFAULT 0 NOT NULL,
	`command_cursor` integer DEFAULT 0 NOT NULL,
	`certificates_hash_acked` text,
	`seq_reserved` integer DEFAULT 0 NOT NULL,
	`joined_at` integer NOT NULL,
	`last_sync_at` integer,
	`last_attempt_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `inbox` (
	`id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'received' NOT NULL,
	`received_at` integer NOT NULL,
	`started_at` integer,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `inbox_status_seq_idx` ON `inbox` (`status`,`seq`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`command_id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`status` text NOT NULL,
	`message` text NOT NULL,
	`data` text,
	`completed_at` integer NOT NULL
);
