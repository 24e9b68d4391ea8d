// Audit action codes ("token.revoke") in words for the pages ("Revoked an API token / joining
// key"); the code stays visible beside it, because the audit search matches codes.
const LABELS: Record<string, string> = {
  "hub.bootstrap": "Hub created (first start)",
  "login.success": "Signed in",
  "login.failure": "Sign-in failed",
  "account.password-change": "Changed own password",
  "account.password-change-limit": "Password change refused (too many attempts)",
  "principal.create": "Added a user or service",
  "principal.update": "Edited a user or service",
  "principal.roles": "Changed roles",
  "principal.password-reset": "Reset a password",
  "principal.sessions-revoke": "Signed a user out everywhere",
  "token.create": "Added a joining key / API token",
  "token.retire": "Retired a joining key / API token",
  "token.revoke": "Revoked a joining key / API token",
  "instance.join": "Instance joined",
  "instance.leave": "Instance left the hub",
  "instance.command": "Sent a command to an instance",
  "instance.revoke": "Revoked an instance",
  "instance.reinstate": "Reinstated an instance",
  "instance.remove": "Removed an instance",
  "instance.rename": "Renamed an instance",
  "instance.reset-identity": "Reset an instance's identity",
  "instance.rekey": "Instance re-keyed",
  "instance.clone-rejoin": "Copied instance joined as a new one",
  "instance.identity-conflict": "Identity conflict detected",
  "instance.version": "Agent version changed",
  "setting.set": "Changed a setting",
  "setting.unset": "Cleared a setting",
  "credential.create": "Stored a credential",
  "credential.update": "Replaced a stored credential",
  "credential.delete": "Deleted a stored credential",
  "ca-account.create": "Added a CA account",
  "ca-account.update": "Edited a CA account",
  "ca-account.delete": "Deleted a CA account",
  "certificate.create": "Defined a certificate",
  "certificate.update": "Edited a certificate",
  "certificate.delete": "Deleted a certificate",
  "certificate.renewed": "Certificate renewed",
  "certificate.deployed": "Certificate deployed",
  "certificate.failed": "Certificate renewal failed",
};

/** Readable name of an audit action; unknown codes read as themselves. */
export function auditActionLabel(action: string): string {
  return LABELS[action] ?? action;
}
