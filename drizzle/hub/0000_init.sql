CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`secret_hash` text NOT NULL,
	`principal_id` text NOT NULL,
	`title` text NOT NULL,
	`role_id` text NOT NULL,
	`group_name` text,
	`expires_at` integer,
	`max_uses` integer,
	`use_count` integer DEFAULT 0 NOT NULL,
	`state` text DEFAULT 'active' NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer,
	`last_used_ip` text,
	`last_instance_id` text,
	`created_at` integer NOT NULL,
	`created_by` text,
	FOREIGN KEY (`principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_client_id_unique` ON `api_tokens` (`client_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor_id` text,
	`actor_label` text NOT NULL,
	`action` text NOT NULL,
	`target_type` text,
	`target_id` text,
	`outcome` text DEFAULT 'success' NOT NULL,
	`ip` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE INDEX `audit_action_idx` ON `audit_log` (`action`);--> statement-breakpoint
CREATE TABLE `certificates` (
	`instance_id` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`domains` text NOT NULL,
	`source` text NOT NULL,
	`status` text NOT NULL,
	`not_before` integer,
	`not_after` integer,
	`serial` text,
	`issuer` text,
	`last_error` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`instance_id`, `id`),
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `certificates_not_after_idx` ON `certificates` (`not_after`);--> statement-breakpoint
CREATE TABLE `commands` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`payload` text DEFAULT '{}' NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`result` text,
	`created_at` integer NOT NULL,
	`created_by` text,
	`delivered_at` integer,
	`completed_at` integer,
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `commands_instance_seq_uq` ON `commands` (`instance_id`,`seq`);--> statement-breakpoint
CREATE TABLE `hub_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`hostname` text NOT NULL,
	`os` text NOT NULL,
	`arch` text NOT NULL,
	`version` text NOT NULL,
	`machine_id` text,
	`public_key` text NOT NULL,
	`retired_public_key` text,
	`joining_key_id` text,
	`group_name` text,
	`state` text DEFAULT 'active' NOT NULL,
	`identity_conflict` integer DEFAULT false NOT NULL,
	`identity_reset_pending` integer DEFAULT false NOT NULL,
	`cloned_from_id` text,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`last_boot_id` text,
	`last_seen_at` integer,
	`last_ip` text,
	`sync_interval_seconds` integer DEFAULT 60 NOT NULL,
	`certificates_hash` text,
	`command_cursor` integer DEFAULT 0 NOT NULL,
	`next_command_seq` integer DEFAULT 1 NOT NULL,
	`settings_version` integer DEFAULT 1 NOT NULL,
	`joined_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`joining_key_id`) REFERENCES `api_tokens`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `instances_joining_key_idx` ON `instances` (`joining_key_id`);--> statement-breakpoint
CREATE TABLE `principal_roles` (
	`principal_id` text NOT NULL,
	`role_id` text NOT NULL,
	PRIMARY KEY(`principal_id`, `role_id`),
	FOREIGN KEY (`principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `principals` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`title` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`email` text,
	`disabled` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `roles` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`built_in` integer DEFAULT true NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`id_hash` text PRIMARY KEY NOT NULL,
	`principal_id` text NOT NULL,
	`csrf_token` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`ip` text,
	`user_agent` text,
	FOREIGN KEY (`principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_principal_idx` ON `sessions` (`principal_id`);--> statement-breakpoint
CREATE TABLE `settings` (
	`scope` text NOT NULL,
	`scope_id` text DEFAULT '' NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text,
	PRIMARY KEY(`scope`, `scope_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`principal_id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`password_hash` text NOT NULL,
	`password_changed_at` integer NOT NULL,
	`last_login_at` integer,
	FOREIGN KEY (`principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_uq` ON `users` (lower("username"));