// The seeds demand this in the join flow: the hub gets control over this host.
export const JOIN_WARNING =
  "Security: the hub will control this host's certificate settings and deployment tasks " +
  "(scripts only if this host allowed them with --allow-scripts). Do not join a hub you don't control or trust.";
