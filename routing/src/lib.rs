//! Routing decisions for Switchboard: the number plan, opening hours, hunt groups and ACD queues.
//!
//! Nothing here is built yet (issues "Calls" and "The citizen's path"). Routing stays free of SIP and IO:
//! call control asks it for decisions and carries them out.
