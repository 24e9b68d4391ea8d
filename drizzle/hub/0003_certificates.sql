CREATE TABLE `account_registrations` (
	`instance_id` text NOT NULL,
	`ca_account_id` text NOT NULL,
	`status` text NOT NULL,
	`message` text,
	`account_url` text,
	`at` integer NOT NULL,
	PRIMARY KEY(`instance_id`, `ca_account_id`),
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `ca_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`directory_url` text NOT NULL,
	`email` text,
	`scope` text NOT NULL,
	`scope_id` text DEFAULT '' NOT NULL,
	`trusted_roots_pem` text,
	`eab_credential_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ca_accounts_scope_idx` ON `ca_accounts` (`scope`,`scope_id`);--> statement-breakpoint
CREATE TABLE `credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`type` text NOT NULL,
	`scope` text NOT NULL,
	`scope_id` text DEFAULT '' NOT NULL,
	`ciphertext` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`created_by` text
);
--> statement-breakpoint
CREATE INDEX `credentials_scope_idx` ON `credentials` (`scope`,`scope_id`);--> statement-breakpoint
CREATE TABLE `external_managers` (
	`instance_id` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`config_path` text,
	`certificate_count` integer DEFAULT 0 NOT NULL,
	`scanned_at` integer,
	`problems` text NOT NULL,
	PRIMARY KEY(`instance_id`, `name`),
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `managed_certificates` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`name` text NOT NULL,
	`domains` text NOT NULL,
	`ca_account_id` text NOT NULL,
	`key_type` text NOT NULL,
	`challenge` text NOT NULL,
	`deployments` text NOT NULL,
	`verify` text,
	`renewal` text,
	`preferred_chain` text,
	`profile` text,
	`credential_ids` text NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`instance_id`) REFERENCES `instances`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `managed_certificates_instance_idx` ON `managed_certificates` (`instance_id`);--> statement-breakpoint
CREATE INDEX `managed_certificates_ca_idx` ON `managed_certificates` (`ca_account_id`);--> statement-breakpoint
ALTER TABLE `certificates` ADD `next_renewal_at` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `renewal_reason` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `failure_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `certificates` ADD `served` text;--> statement-breakpoint
ALTER TABLE `certificates` ADD `revision` integer;--> statement-breakpoint
ALTER TABLE `certificates` ADD `detail` text;