Feature: Patient lookup: a point-of-service system gets a patient summary through the interoperability layer

  Background:
    Given I use basic auth as "${PATIENT_LOOKUP_CLIENT_ID}" with password "${PATIENT_LOOKUP_CLIENT_PASSWORD}"

  Scenario: The mediator is registered, heartbeats and has its channel
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/mediators/urn:mediator:patient-lookup"
    Then the response status is 200
    And the response JSON at "version" is "0.1.0"
    And the response JSON at "_lastHeartbeat" matches "^\d{4}-"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/channels"
    Then the response body contains "^/patient-lookup/.*$"

  Scenario: A patient and an observation recorded through the router come back as one summary
    When I send a POST request to "${BASE_URL}/fhir" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "transaction", "entry": [
        { "fullUrl": "urn:uuid:1b0e7c52-8f8e-4d7e-9a53-6a0f2f1c0001",
          "resource": { "resourceType": "Patient", "identifier": [{ "system": "${PATIENT_LOOKUP_IDENTIFIER_SYSTEM}", "value": "NID-7781" }],
                        "name": [{ "family": "Phiri", "given": ["Chikondi"] }], "birthDate": "1988-02-29" },
          "request": { "method": "POST", "url": "Patient" } },
        { "resource": { "resourceType": "Observation", "status": "final", "code": { "text": "weight" },
                        "subject": { "reference": "urn:uuid:1b0e7c52-8f8e-4d7e-9a53-6a0f2f1c0001" }, "valueQuantity": { "value": 64, "unit": "kg" } },
          "request": { "method": "POST", "url": "Observation" } }
      ] }
      """
    Then the response status is 200
    When I send a GET request to "${BASE_URL}/patient-lookup/summary?nationalId=NID-7781"
    Then the response status is 200
    And the response JSON at "name" is "Phiri Chikondi"
    And the response JSON at "observations.0.what" is "weight"
    And the response JSON at "observations.0.value" is "64"
    And the transaction log soon shows the orchestrations "find patient" and "find observations"

  Scenario: An unknown national id is a 404 from the mediator
    When I send a GET request to "${BASE_URL}/patient-lookup/summary?nationalId=NO-SUCH-ID"
    Then the response status is 404
    And the response JSON at "error" matches "no patient"

  Scenario: Only clients with the patient-lookup role may call it
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"
    When I send a GET request to "${BASE_URL}/patient-lookup/summary?nationalId=NID-7781"
    Then the response status is 401
