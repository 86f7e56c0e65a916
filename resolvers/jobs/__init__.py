"""Background work (detection, reports, webhook deliveries) under a lease held in the store, so one process runs each job."""
