Feature: Core: a point-of-service system reaches the shared health record through the interoperability layer

  Background:
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "${CORE_TEST_CLIENT_PASSWORD}"

  Scenario: The test client creates a patient and reads it back through the router
    When I send a POST request to "${BASE_URL}/fhir/Patient" with the FHIR resource:
      """
      {
        "resourceType": "Patient",
        "identifier": [{ "system": "urn:instant:test:national-id", "value": "CORE-FEATURE-001" }],
        "name": [{ "family": "Moyo", "given": ["Tendai"] }],
        "gender": "female",
        "birthDate": "1990-04-12"
      }
      """
    Then the response status is 201
    And the response header "location" matches "Patient/"
    And I remember the response JSON at "id" as "PATIENT_ID"
    When I send a GET request to "${BASE_URL}/fhir/Patient/${PATIENT_ID}"
    Then the response status is 200
    And the response JSON at "name.0.family" is "Moyo"
    When I send a GET request to "${BASE_URL}/fhir/Patient?identifier=urn:instant:test:national-id|CORE-FEATURE-001"
    Then the response status is 200
    And the response JSON at "total" is at least 1

  Scenario: Every routed request is logged in the transaction API
    When I send a GET request to "${BASE_URL}/fhir/Patient?_count=1"
    Then the response status is 200
    Given I use basic auth as "${OPENHIM_ROOT_EMAIL}" with password "${OPENHIM_ROOT_PASSWORD}"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/clients/${CORE_TEST_CLIENT_ID}"
    Then the response status is 200
    And I remember the response JSON at "_id" as "CLIENT_OBJECT_ID"
    When I send a GET request to "${INTEROP_LAYER_API_URL}/transactions?filterLimit=10"
    Then the response status is 200
    And the response body contains "/fhir/Patient"
    And the response body contains "${CLIENT_OBJECT_ID}"

  Scenario: An authenticated client gets 404 where no channel matches
    When I send a GET request to "${BASE_URL}/no-such-channel"
    Then the response status is 404

  Scenario: A client with a wrong password is refused
    Given I use basic auth as "${CORE_TEST_CLIENT_ID}" with password "not-the-password"
    When I send a GET request to "${BASE_URL}/fhir/Patient"
    Then the response status is 401

  Scenario: Invalid FHIR is refused with an OperationOutcome, not stored
    When I send a POST request to "${BASE_URL}/fhir/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "gender": "sometimes" }
      """
    Then the response status is 400
    And the response JSON at "resourceType" is "OperationOutcome"

  Scenario: A transaction bundle posted to the base URL goes through the router, all or nothing
    When I send a POST request to "${BASE_URL}/fhir" with the FHIR resource:
      """
      {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
          {
            "fullUrl": "urn:uuid:4d0c2a4e-7b1e-4c1e-9d55-0c6f3f9f2a01",
            "resource": { "resourceType": "Patient", "identifier": [{ "system": "urn:instant:test:national-id", "value": "CORE-BUNDLE-001" }], "name": [{ "family": "Banda" }] },
            "request": { "method": "POST", "url": "Patient" }
          },
          {
            "resource": { "resourceType": "Observation", "status": "final", "code": { "text": "weight" }, "subject": { "reference": "urn:uuid:4d0c2a4e-7b1e-4c1e-9d55-0c6f3f9f2a01" }, "valueQuantity": { "value": 61, "unit": "kg" } },
            "request": { "method": "POST", "url": "Observation" }
          }
        ]
      }
      """
    Then the response status is 200
    And the response JSON at "type" is "transaction-response"
    And the response JSON at "entry.0.response.status" is "201 Created"
    And the response JSON at "entry.1.response.status" is "201 Created"

  Scenario: Batches, system search, metadata, history and $everything go through the router as directly
    When I send a POST request to "${BASE_URL}/fhir/" with the FHIR resource:
      """
      { "resourceType": "Bundle", "type": "batch", "entry": [
        { "request": { "method": "GET", "url": "Patient?identifier=urn:instant:test:national-id|CORE-BUNDLE-001" } },
        { "request": { "method": "GET", "url": "Patient/does-not-exist" } }
      ] }
      """
    Then the response status is 200
    And the response JSON at "type" is "batch-response"
    And the response JSON at "entry.0.response.status" is "200 OK"
    And the response JSON at "entry.1.response.status" matches "^404"
    And I remember the response JSON at "entry.0.resource.entry.0.resource.id" as "BUNDLE_PATIENT_ID"
    When I send a GET request to "${BASE_URL}/fhir?_type=Patient,Observation&_count=5"
    Then the response status is 200
    And the response JSON at "type" is "searchset"
    And the response JSON at "link.0.url" matches "^${BASE_URL}/fhir"
    When I send a GET request to "${BASE_URL}/fhir/metadata"
    Then the response status is 200
    And the response JSON at "resourceType" is "CapabilityStatement"
    When I send a GET request to "${BASE_URL}/fhir/_history?_count=5"
    Then the response status is 200
    And the response JSON at "type" is "history"
    When I send a GET request to "${BASE_URL}/fhir/Patient/${BUNDLE_PATIENT_ID}/_history"
    Then the response status is 200
    And the response JSON at "total" is "1"
    When I send a GET request to "${BASE_URL}/fhir/Patient/${BUNDLE_PATIENT_ID}/$everything"
    Then the response status is 200
    And the response JSON at "total" is at least 2

  Scenario: FHIR XML goes through the router too
    Given the request header "accept" is "application/fhir+xml"
    When I send a GET request to "${BASE_URL}/fhir/metadata"
    Then the response status is 200
    And the response header "content-type" matches "application/fhir\+xml"
    And the response body contains "<CapabilityStatement xmlns=\"http://hl7.org/fhir\">"
